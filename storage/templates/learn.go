package templates

import "strings"

// PlaceholderParam is the placeholder learned templates put where the
// traffic shows a parameter: many distinct values under the same prefix
// of the same server's paths (/users/alice, /users/bob, ... →
// /users/{param}).
const PlaceholderParam = "{param}"

// Thresholds of LearnTemplates: the distinct values a position needs
// under one prefix to be a parameter, and fewer when most of them are
// shaped like identifiers (idShaped).
const (
	learnMinValues   = 8
	learnMinIDValues = 4
)

// LearnTemplates groups one server's paths (already through Template) into
// templates by what varies across them: walking the paths as a tree of
// segments, the children of a node become one {param} child when they are
// many (learnMinValues), or when at least learnMinIDValues of them and
// half of them look like identifiers (idShaped); their subtrees merge and the walk
// goes on below, so /repos/{param}/{param}/issues comes out of owner and
// repository names alike. Placeholders Template already put ({id},
// {uuid}, ...) stay as they are, and so do small vocabularies of words
// (the resource types of /api/v1/namespaces/default/pods and
// .../services). It returns each input path's template.
func LearnTemplates(paths []string) map[string]string { return learn(paths, "/") }

// LearnKeys is LearnTemplates for Redis keys (already through Template),
// whose segments are separated by ':' (user:alice:profile →
// user:{param}:profile). The first segment, the key's namespace, is never
// a parameter.
func LearnKeys(keys []string) map[string]string { return learn(keys, ":") }

func learn(paths []string, sep string) map[string]string {
	segs := make([][]string, len(paths))
	idx := make([]int, len(paths))
	for i, p := range paths {
		segs[i] = strings.Split(p, sep)
		idx[i] = i
	}
	learnAt(segs, idx, 0)
	out := make(map[string]string, len(paths))
	for i, p := range paths {
		out[p] = clip(strings.Join(segs[i], sep), MaxTemplateLen)
	}
	return out
}

// learnAt decides position depth for the paths idx, which share their
// segments before depth, then recurses into each resulting child.
func learnAt(segs [][]string, idx []int, depth int) {
	children := map[string][]int{}
	var order []string
	for _, i := range idx {
		if len(segs[i]) <= depth {
			continue
		}
		s := segs[i][depth]
		if _, ok := children[s]; !ok {
			order = append(order, s)
		}
		children[s] = append(children[s], i)
	}
	var words []string
	for _, s := range order {
		if s != "" && !isPlaceholder(s) {
			words = append(words, s)
		}
	}
	if depth > 0 && parameterLike(words) {
		var merged []int
		for _, w := range words {
			for _, i := range children[w] {
				segs[i][depth] = PlaceholderParam
			}
			merged = append(merged, children[w]...)
			delete(children, w)
		}
		children[PlaceholderParam] = append(children[PlaceholderParam], merged...)
		order = append(order, PlaceholderParam)
	}
	for _, s := range order {
		if c := children[s]; len(c) > 0 {
			learnAt(segs, c, depth+1)
			delete(children, s) // each child once
		}
	}
}

func isPlaceholder(s string) bool {
	return strings.HasPrefix(s, "{") && strings.Contains(s, "}")
}

// parameterLike says whether the distinct values at one position under
// one prefix are a parameter's values rather than route words.
func parameterLike(values []string) bool {
	if len(values) >= learnMinValues {
		return true
	}
	if len(values) < learnMinIDValues {
		return false
	}
	ids := 0
	for _, v := range values {
		if idShaped(v) {
			ids++
		}
	}
	return 2*ids >= len(values)
}

// idShaped reports a value that reads as an identifier rather than a
// word: two digits or more (c-7f3a, report-2024.pdf, web-7d4b9c-x2k4p), a
// digit beside a '-' or '_' (user_7), or a long string. One digit alone is
// a word's (v1, k8s in networking.k8s.io).
func idShaped(s string) bool {
	if len(s) >= 24 {
		return true
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			digits++
		}
	}
	return digits >= 2 || digits == 1 && strings.ContainsAny(s, "-_")
}
