package pktfilter

import "testing"

func BenchmarkMatch(b *testing.B) {
	ps := corpus(b)
	f := MustCompile("(tcp port 80 or 443) and not net 192.168.0.0/16 or ip6 and udp")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Match(ps[i%len(ps)])
	}
}
