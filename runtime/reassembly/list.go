package reassembly

// link threads a Conn through one intrusive list; intrusive lists let the
// Assembler reorder connections on every packet without allocating.
type link struct{ prev, next *Conn }

// connList is a doubly linked list of connections in one of two orders: by
// recent activity (lru) or by when they started buffering (buf).
type connList struct {
	head, tail *Conn
	buf        bool
}

func (l *connList) link(c *Conn) *link {
	if l.buf {
		return &c.buf
	}
	return &c.lru
}

func (l *connList) pushBack(c *Conn) {
	lc := l.link(c)
	lc.prev, lc.next = l.tail, nil
	if l.tail != nil {
		l.link(l.tail).next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) remove(c *Conn) {
	lc := l.link(c)
	if lc.prev != nil {
		l.link(lc.prev).next = lc.next
	} else if l.head == c {
		l.head = lc.next
	}
	if lc.next != nil {
		l.link(lc.next).prev = lc.prev
	} else if l.tail == c {
		l.tail = lc.prev
	}
	lc.prev, lc.next = nil, nil
}

func (l *connList) moveToBack(c *Conn) {
	if l.tail == c {
		return
	}
	l.remove(c)
	l.pushBack(c)
}
