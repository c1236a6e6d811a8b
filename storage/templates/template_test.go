package templates

import (
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
