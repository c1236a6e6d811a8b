package postgres

// names maps prepared-statement or portal names to what they stand for,
// bounded: past maxStatements the oldest name is forgotten. The unnamed
// one ("") is replaced by every Parse or Bind, so it is kept apart.
type names[T any] struct {
	unnamed    T
	hasUnnamed bool
	m          map[string]T
	order      []string // insertion order, for deterministic eviction
}

func (n *names[T]) init() { n.m = map[string]T{} }

func (n *names[T]) get(k string) (T, bool) {
	if k == "" {
		return n.unnamed, n.hasUnnamed
	}
	v, ok := n.m[k]
	return v, ok
}

func (n *names[T]) set(k string, v T) {
	if k == "" {
		n.unnamed, n.hasUnnamed = v, true
		return
	}
	if _, ok := n.m[k]; !ok {
		for len(n.m) >= maxStatements && len(n.order) > 0 {
			old := n.order[0]
			n.order = n.order[1:]
			delete(n.m, old)
		}
		if len(n.order) >= 4*maxStatements {
			// Closed names leave stale entries behind; drop them.
			kept := n.order[:0]
			for _, x := range n.order {
				if _, ok := n.m[x]; ok {
					kept = append(kept, x)
				}
			}
			n.order = kept
		}
		n.order = append(n.order, k)
	}
	n.m[k] = v
}

func (n *names[T]) del(k string) {
	if k == "" {
		var zero T
		n.unnamed, n.hasUnnamed = zero, false
		return
	}
	delete(n.m, k)
}
