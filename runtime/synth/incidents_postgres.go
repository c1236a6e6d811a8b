package synth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBin finds Debian's PostgreSQL server programs: they live in
// /usr/lib/postgresql/VERSION/bin, off PATH; the newest version wins.
func postgresBin(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) < pgVersion(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if p := filepath.Join(dirs[i], name); isExec(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s (Debian package postgresql)", ErrMissingTool, name)
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// pgServer is a PostgreSQL server of the scenario's own: a cluster made
// by initdb in a temporary directory, stopped and removed by stop.
type pgServer struct {
	addr string // 127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// startPostgres makes a cluster with initdb and runs postgres on a free
// loopback port, without durability (a scenario's data is thrown away).
// PostgreSQL refuses to run as root: as root it runs as nobody.
func startPostgres(ctx context.Context) (*pgServer, error) {
	initdb, err := postgresBin("initdb")
	if err != nil {
		return nil, err
	}
	server, err := postgresBin("postgres")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubeshark-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	as := func(cmd *exec.Cmd) error { return nil }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: PostgreSQL refuses root and there is no user nobody to run it as: %v", ErrNeedsRoot, err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres: handing %s to nobody: %w", dir, err)
		}
		as = func(cmd *exec.Cmd) error { return runAs(cmd, uint32(uid), uint32(gid)) }
	}
	data := filepath.Join(dir, "data")
	var out bytes.Buffer
	init := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	init.Stdout, init.Stderr = &out, &out
	if err := as(init); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := init.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: initdb: %w\n%s", err, out.Bytes())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	p := &pgServer{addr: addr, dir: dir, log: &bytes.Buffer{}}
	p.cmd = exec.Command(server, "-D", data, "-k", dir, "-h", "127.0.0.1", "-p", port,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=10", "-c", "dynamic_shared_memory_type=mmap")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := as(p.cmd); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: starting %s: %w", server, err)
	}
	return p, nil
}

// stop shuts the server down fast (SIGINT) and removes its cluster.
func (p *pgServer) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(p.dir)
}

// connect opens a connection as user to database db, waiting for the
// server to come up; dial, if set, makes the connection's socket.
func (p *pgServer) connect(ctx context.Context, user, db, app string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&application_name=%s", user, p.addr, db, app))
	if err != nil {
		return nil, err
	}
	if dial != nil {
		cfg.DialFunc = dial
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil || dial != nil {
			return nil, fmt.Errorf("postgres on %s: connecting as %s to %s: %w\n%s", p.addr, user, db, err, p.log.Bytes())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pgRecConn is the API's socket to PostgreSQL, recorded by the API itself
// as a capture on its host would show it: what it writes when written,
// what it reads when read. The capture time a reply is read at is the
// query's send time plus the real time the server took: the latency in
// the capture is PostgreSQL's own.
type pgRecConn struct {
	net.Conn
	conv  *Conn
	clock *simClock
	errs  *firstError

	mu   sync.Mutex
	sent time.Time // real time of the last write not yet answered
}

func (c *pgRecConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	if err := c.conv.Client(b, c.clock.Now()); err != nil {
		c.errs.set(err)
	}
	if c.sent.IsZero() {
		c.sent = time.Now()
	}
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *pgRecConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		if !c.sent.IsZero() {
			c.clock.Sleep(time.Since(c.sent))
			c.sent = time.Time{}
		}
		if err := c.conv.Server(b[:n], c.clock.Now()); err != nil {
			c.errs.set(err)
		}
		c.mu.Unlock()
	}
	return n, err
}

// The reports API's query: a customer's latest orders through a SQL
// function the application owns.
const slowDBQuery = "SELECT id, created, total FROM customer_orders($1)"

// slowDBSchema is the shop's orders, indexed by customer.
var slowDBSchema = []string{
	`CREATE ROLE reports LOGIN`,
	`CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, created timestamptz NOT NULL, total numeric(10,2) NOT NULL)`,
	`INSERT INTO orders (customer, created, total)
	 SELECT (ARRAY['alice','bob','carol','dave','erin','frank','grace','heidi','ivan','judy'])[1 + i % 10],
	        timestamptz '2026-01-01 00:00:00+00' + i * interval '7 minutes', (i % 500) + 0.99
	 FROM generate_series(1, 50000) AS i`,
	`CREATE INDEX orders_customer_idx ON orders (customer, created DESC)`,
	`ANALYZE orders`,
	`CREATE FUNCTION customer_orders(c text) RETURNS TABLE (id bigint, created timestamptz, total numeric)
	 LANGUAGE sql STABLE AS $$ SELECT id, created, total FROM orders WHERE customer = c ORDER BY created DESC LIMIT 20 $$`,
	`GRANT SELECT ON orders TO reports`,
}

// slowDBMigration is the change that slows the query: migration 0042
// drops the customer index and rewrites the function in PL/pgSQL. Its
// pg_sleep stands for the full scan a production-sized table would need
// without the index (~0.6s): a table that big takes minutes to load.
var slowDBMigration = []string{
	`DROP INDEX orders_customer_idx`,
	`CREATE OR REPLACE FUNCTION customer_orders(c text) RETURNS TABLE (id bigint, created timestamptz, total numeric)
	 LANGUAGE plpgsql STABLE AS $$
	 BEGIN
	   PERFORM pg_sleep(0.6); -- the scan of orders without orders_customer_idx
	   RETURN QUERY SELECT o.id, o.created, o.total FROM orders o WHERE o.customer = c ORDER BY o.created DESC LIMIT 20;
	 END $$`,
}

// runSlowDB: client → reports API (Go net/http, pgx) → PostgreSQL (the
// Debian server, a cluster of its own). From the onset a migration has
// dropped the index the report query needs: every query takes ~0.6s of
// PostgreSQL's time instead of well under a millisecond.
func runSlowDB(ctx context.Context, s *stage) (GroundTruth, error) {
	pg, err := startPostgres(ctx)
	if err != nil {
		return GroundTruth{}, err
	}
	s.closers = append(s.closers, pg.stop)
	admin, err := pg.connect(ctx, "postgres", "postgres", "migrate", nil)
	if err != nil {
		return GroundTruth{}, err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE shop"); err != nil {
		admin.Close(ctx)
		return GroundTruth{}, fmt.Errorf("postgres: creating the database: %w", err)
	}
	admin.Close(ctx)
	if admin, err = pg.connect(ctx, "postgres", "shop", "migrate", nil); err != nil {
		return GroundTruth{}, err
	}
	s.closers = append([]func(){func() { admin.Close(context.Background()) }}, s.closers...)
	for _, q := range slowDBSchema {
		if _, err := admin.Exec(ctx, q); err != nil {
			return GroundTruth{}, fmt.Errorf("postgres: setting up the shop (%.40s…): %w", q, err)
		}
	}

	pgAt := netip.MustParseAddrPort("10.0.0.50:5432")
	var rec *pgRecConn
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &pgRecConn{Conn: c, clock: s.clock, errs: &s.errs,
			conv: s.pw.Conn(netip.AddrPortFrom(netip.MustParseAddr(incFrontIP), 49200), pgAt, s.clock.Now())}
		return rec, nil
	}
	db, err := pg.connect(ctx, "reports", "shop", "reports", dial)
	if err != nil {
		return GroundTruth{}, err
	}
	var dbMu sync.Mutex // a pgx.Conn serves one query at a time
	// Closed before the writer is flushed: the API says goodbye
	// (Terminate) and the server answers with its FIN.
	s.closers = append([]func(){func() { db.Close(context.Background()); rec.conv.Close(s.clock.Now()) }}, s.closers...)

	api := newService("reports", incFrontAt)
	mux := http.NewServeMux()
	health(s.clock, api, mux, "reports/4.1.0")
	api.handle(s.clock, mux, "GET /api/reports/{customer}", func(w http.ResponseWriter, r *http.Request) {
		c := r.PathValue("customer")
		s.clock.Sleep(500 * time.Microsecond)
		dbMu.Lock()
		rows, err := db.Query(r.Context(), slowDBQuery, c)
		var orders []map[string]any
		if err == nil {
			for rows.Next() {
				var id int64
				var created time.Time
				var total float64
				if err = rows.Scan(&id, &created, &total); err != nil {
					break
				}
				orders = append(orders, map[string]any{"id": id, "created": created.UTC(), "total": total})
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		dbMu.Unlock()
		if err != nil {
			s.errs.set(fmt.Errorf("reports query for %s: %w", c, err))
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "query failed"})
			return
		}
		s.clock.Sleep(time.Millisecond)
		writeJSON(w, http.StatusOK, map[string]any{"customer": c, "orders": len(orders), "latest": orders[:min(3, len(orders))]})
	})
	client, err := s.serve(api, incClientIP, mux)
	if err != nil {
		return GroundTruth{}, err
	}
	var migrated atomic.Bool
	fault := func(on bool) {
		for _, q := range slowDBMigration {
			if _, err := admin.Exec(ctx, q); err != nil {
				s.errs.set(fmt.Errorf("postgres: migration 0042 (%.40s…): %w", q, err))
				return
			}
		}
		migrated.Store(on)
	}
	onset, err := s.slots(ctx, fault, func(n int, on bool) error {
		if _, _, err := send(ctx, client, http.MethodGet, api, "/api/reports/"+names[n%len(names)], map[string]string{"User-Agent": "dashboard/1.4"}, nil); err != nil {
			return err
		}
		if n%5 == 0 {
			s.pause(n, 1)
			_, _, err := send(ctx, client, http.MethodGet, api, "/health", map[string]string{"User-Agent": "kube-probe/1.31"}, nil)
			return err
		}
		return nil
	})
	if err == nil && !migrated.Load() {
		err = errors.New("postgres: migration 0042 did not run")
	}
	return GroundTruth{
		Description: "The reports API (10.0.0.10:8080, Go net/http with pgx) queries PostgreSQL (10.0.0.50:5432, the Debian server). From the onset a migration has dropped the index the report query needs: each query takes ~0.6s of PostgreSQL's time instead of under a millisecond; every report is slow, none fails.",
		Kind:        "latency", RootCause: pgAt.String(), Onset: onset,
		Evidence: Evidence{Method: "EXECUTE", Path: slowDBQuery, Status: 0, BodyContains: "customer_orders"},
	}, err
}
