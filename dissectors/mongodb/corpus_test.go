package mongodb

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/kubeshark-wasm/kubeshark/sdk"
	"github.com/kubeshark-wasm/kubeshark/sdk/sdktest"
)

// The oracle script has no MongoDB row, so these counts were checked by
// hand against `tshark -r F -d tcp.port==P,mongo -Y mongo -T fields -e
// mongo.opcode -e mongo.full_collection_name -e mongo.request_id -e
// mongo.response_to` (TShark 4.0.17):
//
//   - deepflow_mongo_session.pcap: OP_QUERY admin.$cmd + OP_REPLY, then 14
//     OP_MSG requests each answered by an OP_MSG with responseTo = its
//     requestID → 15 exchanges, all answered.
//   - deepflow_op_msg_port3717.pcap: one OP_MSG request and its reply.
//   - ndpi_mongodb_opquery.pcap: four OP_QUERY on admin.$cmd / abtest.$cmd,
//     no replies in the capture.
var corpusWant = map[string]map[string]int{
	"mongodb/deepflow_mongo_session.pcap": {
		"isMaster admin": 1, "saslContinue admin": 2, "whatsmyuri admin": 1, "buildinfo admin": 1,
		"getLog admin": 2, "isMaster test": 3, "buildInfo test": 2, "getCmdLineOpts admin": 1,
		"replSetGetStatus admin": 1, "endSessions admin": 1,
	},
	"mongodb/deepflow_op_msg_port3717.pcap": {"find sky-test.query": 1},
	"mongodb/ndpi_mongodb_opquery.pcap":     {"ismaster admin": 1, "isMaster admin": 2, "getnonce abtest": 1},
	// Not MongoDB: mid-stream TLS that nDPI once took for it.
	"negative/ndpi_mongo_false_positive_tls443.pcapng": {},
}

var corpusAnswered = map[string]int{
	"mongodb/deepflow_mongo_session.pcap":   15,
	"mongodb/deepflow_op_msg_port3717.pcap": 1,
}

func corpusDir(t *testing.T) string {
	if d := os.Getenv("KUBESHARK_SHARED"); d != "" {
		return filepath.Join(d, "corpus")
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "corpus")
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("SKIPPED: the shared corpus is not at %s", dir)
	}
	for file, want := range corpusWant {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			recs := dissectCapture(t, raw)
			got := map[string]int{}
			answered := 0
			for _, r := range recs {
				got[strings.TrimSpace(r.Method+" "+r.Path)]++
				if r.Response != nil {
					answered++
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for k, n := range want {
				if got[k] != n {
					t.Fatalf("got %v, want %v", got, want)
				}
			}
			if answered != corpusAnswered[file] {
				t.Fatalf("%d answered, want %d", answered, corpusAnswered[file])
			}
		})
	}
}

// packet is one TCP segment with a payload.
type packet struct {
	flow    string // "ip:port>ip:port"
	seq     uint32
	payload []byte
	ts      int64
}

// dissectCapture is a minimal stand-in for the host: it reads pcap or
// pcapng, decodes Ethernet/VLAN/IPv4/IPv6/TCP, drops retransmitted bytes,
// probes each flow with the dissector and feeds the winners.
func dissectCapture(t *testing.T, raw []byte) []*sdk.Record {
	var pkts []packet
	for _, frame := range readFrames(t, raw) {
		if p, ok := decodeTCP(frame.data); ok {
			p.ts = frame.ts
			pkts = append(pkts, p)
		}
	}
	type conn struct {
		dr      *sdktest.Driver
		a       string
		next    map[string]uint32
		started map[string]bool
		probed  bool
	}
	conns := map[string]*conn{}
	var order []string
	d := New()
	for _, p := range pkts {
		src, dst, _ := strings.Cut(p.flow, ">")
		key := min(src, dst) + "|" + max(src, dst)
		c := conns[key]
		if c == nil {
			c = &conn{a: src, next: map[string]uint32{}, started: map[string]bool{}}
			conns[key] = c
			order = append(order, key)
		}
		dir := sdk.DirA
		if src != c.a {
			dir = sdk.DirB
		}
		data := p.payload
		if c.started[src] {
			ahead := int32(p.seq - c.next[src])
			if ahead < 0 {
				skip := int(-ahead)
				if skip >= len(data) {
					continue
				}
				data = data[skip:]
			}
		}
		c.started[src] = true
		c.next[src] = p.seq + uint32(len(p.payload))
		if !c.probed {
			pr := d.Probe(dir, data)
			if pr.Confidence < 50 {
				continue
			}
			c.probed = true
			if pr.FromServer {
				c.a = dst
				dir = dir.Reverse()
			}
			c.dr = sdktest.Open(d, sdk.ConnInfo{ID: uint64(len(order)), Oriented: true})
		}
		c.dr.Feed(dir, data, p.ts)
	}
	var recs []*sdk.Record
	sort.Strings(order)
	for _, k := range order {
		if c := conns[k]; c.dr != nil {
			c.dr.Close(1)
			recs = append(recs, c.dr.Records...)
		}
	}
	return recs
}

type rawFrame struct {
	data []byte
	ts   int64
}

func readFrames(t *testing.T, b []byte) []rawFrame {
	var out []rawFrame
	if len(b) < 24 {
		t.Fatal("short capture")
	}
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		for pos := 24; pos+16 <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[pos+8:]))
			ts := int64(binary.LittleEndian.Uint32(b[pos:]))*1e9 + int64(binary.LittleEndian.Uint32(b[pos+4:]))*1e3
			if pos+16+n > len(b) {
				break
			}
			out = append(out, rawFrame{b[pos+16 : pos+16+n], ts})
			pos += 16 + n
		}
	case 0x0a0d0d0a:
		for pos := 0; pos+12 <= len(b); {
			typ := binary.LittleEndian.Uint32(b[pos:])
			n := int(binary.LittleEndian.Uint32(b[pos+4:]))
			if n < 12 || pos+n > len(b) {
				break
			}
			if typ == 6 {
				capLen := int(binary.LittleEndian.Uint32(b[pos+20:]))
				ts := int64(binary.LittleEndian.Uint32(b[pos+12:]))<<32 | int64(binary.LittleEndian.Uint32(b[pos+16:]))
				if 28+capLen <= n {
					out = append(out, rawFrame{b[pos+28 : pos+28+capLen], ts * 1000})
				}
			}
			pos += n
		}
	default:
		t.Fatal("not a little-endian pcap or pcapng")
	}
	return out
}

func decodeTCP(f []byte) (packet, bool) {
	if len(f) < 14 {
		return packet{}, false
	}
	et := binary.BigEndian.Uint16(f[12:])
	f = f[14:]
	for et == 0x8100 && len(f) >= 4 {
		et = binary.BigEndian.Uint16(f[2:])
		f = f[4:]
	}
	var src, dst string
	switch {
	case et == 0x0800 && len(f) >= 20:
		ihl := int(f[0]&0xf) * 4
		total := int(binary.BigEndian.Uint16(f[2:]))
		if f[9] != 6 || total > len(f) || ihl > total {
			return packet{}, false
		}
		src, dst = string(f[12:16]), string(f[16:20])
		f = f[ihl:total]
	case et == 0x86dd && len(f) >= 40:
		plen := int(binary.BigEndian.Uint16(f[4:]))
		if f[6] != 6 || 40+plen > len(f) {
			return packet{}, false
		}
		src, dst = string(f[8:24]), string(f[24:40])
		f = f[40 : 40+plen]
	default:
		return packet{}, false
	}
	if len(f) < 20 {
		return packet{}, false
	}
	off := int(f[12]>>4) * 4
	if off > len(f) || off == len(f) {
		return packet{}, false
	}
	sp, dp := binary.BigEndian.Uint16(f), binary.BigEndian.Uint16(f[2:])
	return packet{
		flow:    src + string(binary.BigEndian.AppendUint16(nil, sp)) + ">" + dst + string(binary.BigEndian.AppendUint16(nil, dp)),
		seq:     binary.BigEndian.Uint32(f[4:]),
		payload: f[off:],
	}, true
}
