package storage

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// TestAuxDelete: DeleteAuxBatch removes the keys named, and only them;
// absent keys are no error; a closed store says so.
func TestAuxDelete(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutAuxBatch(ctx, map[string][]byte{"a/1": {1}, "a/2": {2}, "a/3": {3}, "b/1": {4}}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteAuxBatch(ctx, []string{"a/1", "a/3", "a/9"}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = st.ScanAux(ctx, "", func(k string, _ []byte) error { keys = append(keys, k); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/2", "b/1"}; !slices.Equal(keys, want) {
		t.Errorf("left %v, want %v", keys, want)
	}
	st.Close()
	if err := st.DeleteAuxBatch(ctx, []string{"a/2"}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed store: %v, want ErrClosed", err)
	}
}
