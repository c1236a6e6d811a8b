package kafka

// request is what a Kafka request header and body tell us.
type request struct {
	key, version int16
	corr         int32
	clientID     string
	topics       []string
	// topicNote explains why Path is empty for an API that names topics
	// (an unsupported version, topic ids instead of names, a cut body).
	topicNote  string
	allTopics  bool // Metadata with a null topic list: every topic
	noResponse bool // Produce with acks=0: the broker never answers
	flex       bool
	bodyAt     int    // offset of the body after the header
	preview    []byte // first body bytes, copied

	start, end int64
	size       int64
	cut        bool // only a prefix of the message was parsed
}

// parseHeader reads a request header from a message body (after the size).
// ok is false when the bytes cannot be a request header of a known API.
func parseHeader(b []byte) (req *request, r *reader, ok bool) {
	r = &reader{b: b}
	req = &request{key: r.i16(), version: r.i16(), corr: r.i32()}
	a, known := lookupAPI(req.key)
	if !r.ok() || !known || req.version < 0 {
		return req, r, false
	}
	// The client id is a classic nullable string even in header v2.
	n := int(r.i16())
	if n < -1 || n > 0 && !r.need(n) {
		return req, r, false
	}
	if n > 0 {
		id := b[r.pos : r.pos+n]
		if !printable(id) {
			return req, r, false
		}
		req.clientID = string(id[:min(len(id), maxString)])
		r.pos += n
	}
	req.flex = a.flexible >= 0 && req.version >= a.flexible
	r.flex = req.flex
	r.tags()
	req.bodyAt = r.pos
	return req, r, r.ok()
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// parseTopics fills req.topics for the APIs whose requests name topics.
// A body cut short keeps the names read before the cut.
func (req *request) parseTopics(r *reader) {
	v := req.version
	a, _ := lookupAPI(req.key)
	if v > a.max {
		switch req.key {
		case keyProduce, keyFetch, keyListOffsets, keyMetadata, keyOffsetCommit, keyOffsetFetch, keyCreateTopics, keyDeleteTopics:
			req.topicNote = "topics not parsed: version " + itoa(int(v)) + " is not supported"
		}
		return
	}
	add := func(name string) {
		if name != "" && len(req.topics) < maxStrings {
			req.topics = append(req.topics, name)
		}
	}
	switch req.key {
	case keyProduce:
		if v >= 3 {
			r.skipStr() // transactional id
		}
		acks := r.i16()
		req.noResponse = r.ok() && acks == 0
		r.i32()
		for range r.array() {
			add(r.str())
			for range r.array() {
				r.i32()
				r.skipBytes()
				r.tags()
				if !r.ok() {
					break
				}
			}
			r.tags()
			if !r.ok() {
				break
			}
		}
	case keyFetch:
		if v <= 14 {
			r.i32()
		}
		r.skip(8)
		if v >= 3 {
			r.i32()
		}
		if v >= 4 {
			r.i8()
		}
		if v >= 7 {
			r.skip(8)
		}
		if v >= 13 {
			req.topicNote = "topics are sent as topic ids from Fetch v13"
			return
		}
		for range r.array() {
			add(r.str())
			for range r.array() {
				r.skip(4 + 8 + 4)
				if v >= 9 {
					r.i32()
				}
				if v >= 12 {
					r.i32()
				}
				if v >= 5 {
					r.skip(8)
				}
				r.tags()
				if !r.ok() {
					break
				}
			}
			r.tags()
			if !r.ok() {
				break
			}
		}
	case keyListOffsets:
		r.i32()
		if v >= 2 {
			r.i8()
		}
		for range r.array() {
			add(r.str())
			for range r.array() {
				r.i32()
				if v >= 4 {
					r.i32()
				}
				r.skip(8)
				if v == 0 {
					r.i32()
				}
				r.tags()
				if !r.ok() {
					break
				}
			}
			r.tags()
			if !r.ok() {
				break
			}
		}
	case keyMetadata:
		n := r.length(true)
		if n == -1 && v >= 1 || n == 0 && v == 0 {
			req.allTopics = r.ok()
			return
		}
		for i := 0; i < min(n, maxArray) && r.ok(); i++ {
			if v >= 10 {
				r.skip(16)
			}
			add(r.str())
			r.tags()
		}
	case keyOffsetCommit:
		r.skipStr()
		if v >= 1 {
			r.i32()
			r.skipStr()
		}
		if v >= 7 {
			r.skipStr()
		}
		if v >= 2 && v <= 4 {
			r.skip(8)
		}
		for range r.array() {
			add(r.str())
			for range r.array() {
				r.skip(4 + 8)
				if v >= 6 {
					r.i32()
				}
				if v == 1 {
					r.skip(8)
				}
				r.skipStr()
				r.tags()
				if !r.ok() {
					break
				}
			}
			r.tags()
			if !r.ok() {
				break
			}
		}
	case keyOffsetFetch:
		groups := 1
		if v >= 8 {
			groups = r.array()
		}
		for range groups {
			r.skipStr()
			if v >= 9 {
				r.skipStr()
				r.i32()
			}
			for range r.array() {
				add(r.str())
				r.skip(4 * r.array())
				r.tags()
				if !r.ok() {
					break
				}
			}
			if v >= 8 {
				r.tags()
			}
			if !r.ok() {
				break
			}
		}
	case keyCreateTopics:
		for range r.array() {
			add(r.str())
			r.i32()
			r.i16()
			for range r.array() {
				r.i32()
				r.skip(4 * r.array())
				r.tags()
				if !r.ok() {
					break
				}
			}
			for range r.array() {
				r.skipStr()
				r.skipStr()
				r.tags()
				if !r.ok() {
					break
				}
			}
			r.tags()
			if !r.ok() {
				break
			}
		}
	case keyDeleteTopics:
		for range r.array() {
			add(r.str())
			if v >= 6 {
				r.skip(16)
				r.tags()
			}
			if !r.ok() {
				break
			}
		}
	}
	if !r.ok() && len(req.topics) == 0 && req.topicNote == "" {
		req.topicNote = "topics not parsed: request body malformed or cut short"
	}
}
