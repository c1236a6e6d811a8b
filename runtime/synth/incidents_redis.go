package synth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMissingTool is returned when a scenario needs a program that is not
// installed (make deps installs it).
var ErrMissingTool = errors.New("synth: a program the scenario needs is not installed")

// ErrNeedsRoot is returned by a scenario that changes the network (makes
// namespaces, shapes a link) when it does not run as root.
var ErrNeedsRoot = errors.New("synth: the scenario needs root")

// redisScript ranks a leaderboard by walking its entries: cheap while the
// board is small, a long busy script once it is not. It runs inside
// redis-server for real.
const redisScript = `local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + i end ` +
	`if tonumber(ARGV[1]) > 100000 then return "rank rebuilt: full scan of " .. ARGV[1] .. " entries" end ` +
	`return "rank: " .. ARGV[1] .. " entries"`

// startRedis runs redis-server on a free loopback port without
// persistence and returns its address and a function that stops it.
func startRedis(ctx context.Context) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("%w: redis-server (Debian package redis-server)", ErrMissingTool)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting redis-server: %w", err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s did not come up: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisConn is the API's connection to redis-server, recorded by the API
// itself as a capture on its host would show it: each command when sent,
// each reply when complete. Recording in the caller keeps the reply's
// capture time after the command's whatever the scheduler does.
type redisConn struct {
	mu    sync.Mutex
	c     net.Conn
	r     *bufio.Reader
	conv  *Conn
	clock *simClock
}

// do sends one command and returns its reply line(s). took is the capture
// time the reply is stamped after the command: a fixed figure standing for
// the server's run time, so the time line does not depend on the machine.
func (rc *redisConn) do(took time.Duration, args ...string) (string, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := rc.conv.Client([]byte(b.String()), rc.clock.Now()); err != nil {
		return "", err
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	reply := line
	if line[0] == '$' {
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := readFull(rc.r, buf); err != nil {
				return "", err
			}
			reply += string(buf)
		}
	}
	rc.clock.Sleep(took)
	if err := rc.conv.Server([]byte(reply), rc.clock.Now()); err != nil {
		return "", err
	}
	if line[0] == '-' {
		return "", fmt.Errorf("redis: %s", strings.TrimSpace(line[1:]))
	}
	return reply, nil
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// runRedisLatency: client → leaderboard API → redis-server. From the onset
// the board has grown and the API's ranking script (EVAL, run by Redis)
// walks millions of entries: each call takes ~600ms of Redis time instead
// of well under a millisecond.
func runRedisLatency(ctx context.Context, s *stage) (GroundTruth, error) {
	addr, stop, err := startRedis(ctx)
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append(s.closers, stop)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return GroundTruth{}, fmt.Errorf("dialing redis-server: %w", err)
	}
	redisAt := netip.MustParseAddrPort("10.0.0.90:6379")
	rc := &redisConn{c: c, r: bufio.NewReader(c), clock: s.clock,
		conv: s.pw.Conn(netip.AddrPortFrom(netip.MustParseAddr(incFrontIP), 49200), redisAt, s.clock.Now())}
	// Closed before the writer is flushed; the server's side answers
	// with its FIN as the recorded close says.
	s.closers = append([]func(){func() { rc.conv.Close(s.clock.Now()); c.Close() }}, s.closers...)

	api := newService("leaderboard", incFrontAt)
	var grown atomic.Bool
	mux := http.NewServeMux()
	health(s.clock, api, mux, "leaderboard/2.2")
	api.handle(s.clock, mux, "GET /api/leaderboard/{game}", func(w http.ResponseWriter, r *http.Request) {
		game := r.PathValue("game")
		entries, took := "2000", 300*time.Microsecond+jitter(len(game), 200*time.Microsecond)
		if grown.Load() {
			entries, took = "3000000", 600*time.Millisecond+jitter(len(game), 80*time.Millisecond)
		}
		// A sorted set per game's board, as is usual: each game is its
		// own key, which only learning key templates groups into one
		// endpoint (lb:weekly:{param}).
		reply, err := rc.do(took, "EVAL", redisScript, "1", "lb:weekly:"+game, entries, game)
		if err != nil {
			s.errs.set(err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "ranking failed"})
			return
		}
		s.clock.Sleep(400 * time.Microsecond)
		writeJSON(w, http.StatusOK, map[string]any{"game": game, "ranking": strings.TrimSpace(reply[strings.Index(reply, "\n")+1:])})
	})
	client, err := s.serve(api, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	onset, err := s.slots(ctx, grown.Store, func(n int, on bool) error {
		game := names[n%len(names)]
		if _, _, err := send(ctx, client, http.MethodGet, api, "/api/leaderboard/"+game, map[string]string{"User-Agent": "game-client/5.0"}, nil); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, api, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	return GroundTruth{
		Description: "The leaderboard API (10.0.0.10:8080) ranks with a Lua script on redis-server (10.0.0.90:6379). From the onset the board holds millions of entries and each EVAL takes ~600ms of Redis time instead of under a millisecond; every ranking is slow, none fails.",
		Kind:        "latency", RootCause: redisAt.String(), Onset: onset,
		Evidence: Evidence{Method: "EVAL", Path: "lb:weekly:" + names[incidentOnset%len(names)], Status: 0, BodyContains: "full scan"},
	}, err
}
