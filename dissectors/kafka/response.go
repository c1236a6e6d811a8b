package kafka

// errorScan remembers the first non-zero error code a response carries.
type errorScan struct {
	code int16
	r    *reader
}

func (e *errorScan) read() {
	c := e.r.i16()
	if e.r.ok() && c != 0 && e.code == 0 {
		e.code = c
	}
}

// parseResponse finds the first non-zero error code in a response body
// (after its header). parsed is false for APIs whose responses the
// dissector does not read.
func parseResponse(r *reader, key, v int16) (code int16, parsed bool) {
	e := &errorScan{r: r}
	loop := func(body func()) {
		for range r.array() {
			body()
			r.tags()
			if !r.ok() {
				return
			}
		}
	}
	throttle := func(from int16) {
		if v >= from {
			r.i32()
		}
	}
	if a, ok := lookupAPI(key); !ok || v > a.max {
		return 0, false
	}
	switch key {
	case keyProduce:
		loop(func() {
			r.skipStr()
			loop(func() {
				r.i32()
				e.read()
				r.skip(8)
				if v >= 2 {
					r.skip(8)
				}
				if v >= 5 {
					r.skip(8)
				}
				if v >= 8 {
					loop(func() { r.i32(); r.skipStr() })
					r.skipStr()
				}
			})
		})
	case keyFetch:
		throttle(1)
		if v >= 7 {
			e.read()
			r.i32()
		}
		loop(func() {
			if v >= 13 {
				r.skip(16)
			} else {
				r.skipStr()
			}
			loop(func() {
				r.i32()
				e.read()
				r.skip(8)
				if v >= 4 {
					r.skip(8)
				}
				if v >= 5 {
					r.skip(8)
				}
				if v >= 4 {
					loop(func() { r.skip(16) })
				}
				if v >= 11 {
					r.i32()
				}
				r.skipBytes()
			})
		})
	case keyListOffsets:
		throttle(2)
		loop(func() {
			r.skipStr()
			loop(func() {
				r.i32()
				e.read()
				if v == 0 {
					r.skip(8 * r.array())
				} else {
					r.skip(16)
				}
				if v >= 4 {
					r.i32()
				}
			})
		})
	case keyMetadata:
		throttle(3)
		loop(func() {
			r.i32()
			r.skipStr()
			r.i32()
			if v >= 1 {
				r.skipStr()
			}
		})
		if v >= 2 {
			r.skipStr()
		}
		if v >= 1 {
			r.i32()
		}
		loop(func() {
			e.read()
			r.skipStr()
			if v >= 10 {
				r.skip(16)
			}
			if v >= 1 {
				r.i8()
			}
			loop(func() {
				e.read()
				r.skip(8)
				if v >= 7 {
					r.i32()
				}
				r.skip(4 * r.array())
				r.skip(4 * r.array())
				if v >= 5 {
					r.skip(4 * r.array())
				}
			})
			if v >= 8 {
				r.i32()
			}
		})
	case keyOffsetCommit:
		throttle(3)
		loop(func() {
			r.skipStr()
			loop(func() { r.i32(); e.read() })
		})
	case keyOffsetFetch:
		if v >= 8 {
			r.i32()
			loop(func() {
				r.skipStr()
				loop(func() {
					r.skipStr()
					loop(func() { r.skip(12); r.i32(); r.skipStr(); e.read() })
				})
				e.read()
			})
			break
		}
		throttle(3)
		loop(func() {
			r.skipStr()
			loop(func() {
				r.skip(12)
				if v >= 5 {
					r.i32()
				}
				r.skipStr()
				e.read()
			})
		})
		if v >= 2 {
			e.read()
		}
	case keyFindCoordinator:
		throttle(1)
		if v >= 4 {
			loop(func() {
				r.skipStr()
				r.i32()
				r.skipStr()
				r.i32()
				e.read()
				r.skipStr()
			})
			break
		}
		e.read()
	case keyJoinGroup:
		throttle(2)
		e.read()
	case keyHeartbeat, keySyncGroup, keyListGroups:
		throttle(1)
		e.read()
	case keyLeaveGroup:
		throttle(1)
		e.read()
		if v >= 3 {
			loop(func() { r.skipStr(); r.skipStr(); e.read() })
		}
	case keyDescribeGroups:
		throttle(1)
		if r.array() > 0 {
			e.read()
		}
	case keySaslHandshake, keyApiVersions, keySaslAuth:
		e.read()
	case keyInitProducerId, keyAddOffsetsToTxn, keyEndTxn:
		r.i32()
		e.read()
	case keyCreateTopics:
		throttle(2)
		loop(func() {
			r.skipStr()
			if v >= 7 {
				r.skip(16)
			}
			e.read()
			if v >= 1 {
				r.skipStr()
			}
			if v >= 5 {
				r.i32()
				r.i16()
				loop(func() { r.skipStr(); r.skipStr(); r.skip(3) })
			}
		})
	case keyDeleteTopics:
		throttle(1)
		loop(func() {
			r.skipStr()
			if v >= 6 {
				r.skip(16)
			}
			e.read()
			if v >= 5 {
				r.skipStr()
			}
		})
	default:
		return 0, false
	}
	return e.code, true
}
