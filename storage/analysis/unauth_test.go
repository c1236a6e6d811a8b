package analysis

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

func TestFindUnauthenticated(t *testing.T) {
	auth := []sdk.Header{{Name: "Authorization", Value: "Bearer t"}}
	var cs []call
	for i := 0; i < 10; i++ {
		at := sec(float64(i))
		// Orders: 8 calls with a token, one without rejected, then one
		// without that got through.
		o := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: fmt.Sprintf("/orders/%d", i), ms: 1, reqHeaders: auth}
		switch i {
		case 3:
			o.reqHeaders, o.status = nil, 401
		case 7:
			o.reqHeaders = nil
		}
		cs = append(cs, o)
		// Reports: 9 calls with a cookie or a key in the query, one
		// without, rejected.
		r := call{at: at, src: "10.0.0.8", dst: "10.0.0.1:80", path: "/reports", ms: 1, reqHeaders: []sdk.Header{{Name: "Cookie", Value: "sid=1"}}}
		switch {
		case i%2 == 0:
			r.reqHeaders, r.path = nil, "/reports?api_key=k"
		case i == 5:
			r.reqHeaders, r.status = nil, 403
		}
		cs = append(cs, r)
		// Public: never authenticated, so not reported.
		cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/public", ms: 1})
		// Half and half: not "most".
		h := call{at: at, src: "10.0.0.9", dst: "10.0.0.1:80", path: "/half", ms: 1}
		if i%2 == 0 {
			h.reqHeaders = auth
		}
		cs = append(cs, h)
		// Not HTTP: ignored.
		cs = append(cs, call{at: at, src: "10.0.0.9", dst: "10.0.0.2:6379", proto: "redis", method: "GET", path: "k", ms: 1})
	}
	st := openStore(t, recs(cs...))
	ctx := context.Background()
	res, err := FindUnauthenticated(ctx, st, UnauthQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if res.EndpointsChecked != 4 || len(res.Endpoints) != 2 {
		t.Fatalf("checked %d, reported %+v", res.EndpointsChecked, res.Endpoints)
	}
	o, r := res.Endpoints[0], res.Endpoints[1]
	if o.Path != "/orders/{id}" || o.Calls != 10 || o.WithCredentials != 8 || o.WithoutCredentials != 2 || o.AuthShare != 0.8 ||
		o.UnauthAccepted != 1 || !reflect.DeepEqual(o.Credentials, []string{"authorization"}) {
		t.Errorf("orders: %+v", o)
	}
	if len(o.Examples) != 2 || o.Examples[0].Accepted || o.Examples[0].Status != 401 || !o.Examples[1].Accepted || o.Examples[1].Path != "/orders/7" {
		t.Errorf("orders examples %+v", o.Examples)
	}
	if r.Path != "/reports" || r.WithoutCredentials != 1 || r.UnauthAccepted != 0 || !reflect.DeepEqual(r.Credentials, []string{"cookie", "query:api_key"}) {
		t.Errorf("reports: %+v", r)
	}

	// One example per endpoint keeps an accepted call in preference.
	res, err = FindUnauthenticated(ctx, st, UnauthQuery{Examples: 1, MinAuthShare: 0.85})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Endpoints) != 1 || res.Endpoints[0].Path != "/reports" {
		t.Errorf("share 0.85: %+v", res.Endpoints)
	}
	res, err = FindUnauthenticated(ctx, st, UnauthQuery{Examples: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ex := res.Endpoints[0].Examples; len(ex) != 1 || !ex[0].Accepted || ex[0].Path != "/orders/7" {
		t.Errorf("single example %+v", ex)
	}
	if _, err := FindUnauthenticated(ctx, st, UnauthQuery{MinAuthShare: 1}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("share 1: %v", err)
	}
}
