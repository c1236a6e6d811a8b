package analysis

import (
	"context"
	"testing"
	"time"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// The memo gives the same set while the store is unchanged, and learns
// again once records land inside the span it learned from (the span's
// ends unchanged: only the minutes' epochs tell).
func TestTemplateMemoFollowsTheData(t *testing.T) {
	ctx := context.Background()
	at := func(i int, user string) *sdk.Record {
		return call{at: time.Duration(i) * 40 * time.Second, src: "10.0.0.5", dst: "10.0.0.9:8080", method: "GET", path: "/users/" + user, status: 200, ms: 1}.rec()
	}
	first, last := at(0, "alice"), at(8, "bob")
	st := openStore(t, []*sdk.Record{first, last})
	var memo TemplateMemo
	a, err := memo.Templates(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.OfRecord(first); got != "/users/alice" {
		t.Fatalf("two users: template %q, want the path itself", got)
	}
	b, err := memo.Templates(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("an unchanged store was learned again")
	}
	// Another process (a new memo) finds the set cached in the store.
	key, newest, err := templatesKey(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	cached, ok := loadTemplates(ctx, st, key, newest)
	if !ok || cached.OfRecord(last) != a.OfRecord(last) || cached.Servers() != a.Servers() {
		t.Errorf("the learned set is not cached in the store (found %v)", ok)
	}

	var more []*sdk.Record
	for i, u := range []string{"carol", "dave", "erin", "frank", "grace", "heidi"} {
		more = append(more, at(i+1, u))
	}
	if err := st.Put(ctx, more); err != nil {
		t.Fatal(err)
	}
	c, err := memo.Templates(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.OfRecord(first); got != "/users/{param}" {
		t.Errorf("after six more users inside the same span: template %q, want /users/{param} (a stale memo?)", got)
	}
	var fresh TemplateMemo
	d, err := fresh.Templates(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.OfRecord(first); got != "/users/{param}" {
		t.Errorf("a new memo on the changed store: template %q, want /users/{param} (a stale cached set?)", got)
	}
}
