package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	long := "SELECT " + strings.Repeat("col, ", 100) + "x FROM t WHERE id = 5"
	tests := []struct {
		proto, path, want string
	}{
		{"http", "/api/orders/12345?x=1", "/api/orders/{id}"},
		{"http", "/api/orders/12345/items/7#frag", "/api/orders/{id}/items/{id}"},
		{"http", "/users/550e8400-e29b-41d4-a716-446655440000/profile", "/users/{uuid}/profile"},
		{"http", "/objects/507f1f77bcf86cd799439011", "/objects/{hash}"},
		{"http", "/commits/3b18e512dba79e4c8300dd08aeb37f8e728b8dad", "/commits/{hash}"},
		{"http", "/reset/dQw4w9WgXcQzL8kPq2RsTuVw", "/reset/{token}"},
		{"http", "/users/jane.doe%40example.com", "/users/{email}"},
		{"http", "/users/jane.doe@example.com/orders", "/users/{email}/orders"},
		{"http", "/reports/2024-01-31", "/reports/{date}"},
		{"http", "/invoices/INV-20240001", "/invoices/{id}"},
		{"http", "/files/12345.json", "/files/{id}.json"},
		{"http", "/cart;jsessionid=ABC123/view", "/cart/view"},
		{"http", "http://shop.example.com:8080/api/items/9?q=1", "/api/items/{id}"},
		{"http", "", "/"},
		{"http", "?only=query", "/"},
		// Words, versions and slugs stay.
		{"http", "/api/v2/users/me", "/api/v2/users/me"},
		{"http", "/blog/how-to-use-k8s-in-2024", "/blog/how-to-use-k8s-in-2024"},
		{"http", "/static/deadbeef", "/static/deadbeef"}, // hex letters but no digit: a word
		{"http", "/2fa/setup", "/2fa/setup"},
		{"grpc", "/orders.v1.OrderService/GetOrder", "/orders.v1.OrderService/GetOrder"},
		{"", "/legacy/42", "/legacy/{id}"},
		// SQL: literals become ?, lists collapse, whitespace and comments go.
		{"postgres", "SELECT * FROM t WHERE id = 5", "SELECT * FROM t WHERE id = ?"},
		{"postgres", "SELECT  *\n FROM t  WHERE id = 7 -- note", "SELECT * FROM t WHERE id = ?"},
		{"postgres", "SELECT * FROM t WHERE name = 'O''Brien' AND n > -3.5", "SELECT * FROM t WHERE name = ? AND n > ?"},
		{"postgres", "SELECT * FROM t WHERE id IN (1, 2, 3) LIMIT 10", "SELECT * FROM t WHERE id IN (?) LIMIT ?"},
		{"postgres", "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", "INSERT INTO t (a, b) VALUES (?)"},
		{"postgres", "SELECT * FROM t1 WHERE c2 = $1 /* bind */", "SELECT * FROM t1 WHERE c2 = $1"},
		{"postgres", `SELECT "col1" FROM "t2" WHERE x = 0x1F`, `SELECT "col1" FROM "t2" WHERE x = ?`},
		{"mysql", `SELECT * FROM users WHERE email = "a@b.c" AND id = 3`, "SELECT * FROM users WHERE email = ? AND id = ?"},
		{"mysql", "SELECT a - 1 FROM t", "SELECT a - ? FROM t"},
		// Keys and topics template their segments; other names stay.
		{"redis", "user:12345:profile", "user:{id}:profile"},
		{"redis", "session:9f8e7d6c5b4a3f2e", "session:{hash}"},
		{"mqtt", "devices/12345/telemetry", "devices/{id}/telemetry"},
		{"dns", "12345.example.com", "12345.example.com"},
		{"kafka", "orders,payments", "orders,payments"},
	}
	for _, tt := range tests {
		if got := Template(tt.proto, tt.path); got != tt.want {
			t.Errorf("Template(%q, %q) = %q, want %q", tt.proto, tt.path, got, tt.want)
		}
	}
	// Statements differing only in literals group together; long ones are
	// cut to the cap.
	if a, b := Template("postgres", "select * from t where id = 5"), Template("postgres", "select * from t where id = 7"); a != b {
		t.Errorf("literals not normalised: %q vs %q", a, b)
	}
	got := Template("postgres", long)
	if len(got) > MaxTemplateLen+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "SELECT col, col,") {
		t.Errorf("long SQL: got %d bytes %q", len(got), got)
	}
	if got := Template("http", "/"+strings.Repeat("abc/", 100)); len(got) > MaxTemplateLen+len("…") {
		t.Errorf("long path not cut: %d bytes", len(got))
	}
}

func TestSketch(t *testing.T) {
	tests := []struct {
		name   string
		values func(add func(float64))
		q      float64
		want   float64
		relErr float64
		approx bool
	}{
		{"exact p50 of 1..100", seq(1, 100), 0.50, 50, 0, false},
		{"exact p95 of 1..100", seq(1, 100), 0.95, 95, 0, false},
		{"exact p99 of 1..100", seq(1, 100), 0.99, 99, 0, false},
		{"exact p100 of 1..100", seq(1, 100), 1, 100, 0, false},
		{"exact one value", seq(7, 7), 0.95, 7, 0, false},
		{"binned p50 of 1..100000", seq(1, 100000), 0.50, 50000, 0.01, true},
		{"binned p95 of 1..100000", seq(1, 100000), 0.95, 95000, 0.01, true},
		{"binned p99 of 0.01..1000", func(add func(float64)) {
			for i := 1; i <= 100000; i++ {
				add(float64(i) / 100)
			}
		}, 0.99, 990, 0.01, true},
		{"zeros counted", func(add func(float64)) {
			for i := 0; i < 2000; i++ {
				add(0)
			}
			add(5)
		}, 0.99, 0, 0, true},
	}
	for _, tt := range tests {
		s := newSketch(groupExact, groupAlpha)
		tt.values(s.add)
		got := s.quantile(tt.q)
		if math.Abs(got-tt.want) > tt.relErr*tt.want {
			t.Errorf("%s: quantile(%v) = %v, want %v ± %v%%", tt.name, tt.q, got, tt.want, tt.relErr*100)
		}
		if s.approximate() != tt.approx {
			t.Errorf("%s: approximate = %v, want %v", tt.name, s.approximate(), tt.approx)
		}
	}
	var empty sketch
	if empty.quantile(0.5) != 0 {
		t.Error("empty sketch has a quantile")
	}
}

func seq(from, to int) func(add func(float64)) {
	return func(add func(float64)) {
		// Descending, so the exact path has to sort.
		for i := to; i >= from; i-- {
			add(float64(i))
		}
	}
}
