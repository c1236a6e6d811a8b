package analysis

import (
	"context"
	"reflect"
	"testing"
)

func TestEndpoints(t *testing.T) {
	var cs []call
	for i := 0; i < 6; i++ {
		at := sec(float64(i))
		cs = append(cs,
			call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", dstName: "shop/web", path: "/", ms: 1, failed: i == 0, status: 500},
			call{at: at, src: "10.0.0.1", srcName: "shop/web", dst: "10.0.0.2:5432", proto: "postgres", method: "SELECT", path: "SELECT 1", ms: 1},
		)
		if i%2 == 0 {
			cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:9090", dstName: "shop/web", path: "/metrics", ms: 1})
		}
	}
	st := openStore(t, recs(cs...))
	res, err := Endpoints(context.Background(), st, EndpointsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if res.HostsSeen != 3 || len(res.Hosts) != 3 || res.Truncated {
		t.Fatalf("%d hosts seen, %d listed", res.HostsSeen, len(res.Hosts))
	}
	web, client, db := res.Hosts[0], res.Hosts[1], res.Hosts[2]
	if web.IP != "10.0.0.1" || web.Name != "web" || web.Namespace != "shop" || web.Role != RoleBoth ||
		web.CallsAsServer != 9 || web.CallsAsClient != 6 || web.ErrorsAsServer != 1 {
		t.Errorf("web %+v", web)
	}
	wantPorts := []PortUse{{Port: 80, Protocols: []string{"http"}, Calls: 6, Errors: 1}, {Port: 9090, Protocols: []string{"http"}, Calls: 3}}
	if !reflect.DeepEqual(web.Ports, wantPorts) {
		t.Errorf("web ports %+v, want %+v", web.Ports, wantPorts)
	}
	if !web.FirstSeen.Equal(t0) || !web.LastSeen.Equal(t0.Add(sec(5))) {
		t.Errorf("web seen %v..%v", web.FirstSeen, web.LastSeen)
	}
	if client.IP != "10.0.0.9" || client.Role != RoleClient || client.CallsAsClient != 9 || len(client.Ports) != 0 {
		t.Errorf("client %+v", client)
	}
	if db.IP != "10.0.0.2" || db.Role != RoleServer || !reflect.DeepEqual(db.Protocols, []string{"postgres"}) {
		t.Errorf("db %+v", db)
	}

	res, err = Endpoints(context.Background(), st, EndpointsQuery{Limit: 1, Window: win(sec(1), sec(2))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hosts) != 1 || !res.Truncated || res.Hosts[0].CallsAsServer != 1 || res.Hosts[0].CallsAsClient != 1 {
		t.Errorf("window [1s,2s), limit 1: %+v", res)
	}
}
