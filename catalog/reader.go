package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/s3sync/s3sync/internal/text"
)

// ErrNoTable is returned, wrapped with the table name, by Scan and Count for a kind whose
// table does not exist in the database (preview_card_providers before Mastodon 4.0, say).
var ErrNoTable = errors.New("table not found")

// ErrNoColumn is returned, wrapped with the table and column names, by Scan for a kind whose
// table lacks a column s3sync needs (a file-name column, say): not a Mastodon schema it knows.
var ErrNoColumn = errors.New("column not found")

// ErrConnection is wrapped by errors that a lost or refused connection caused: the server
// restarted, the network or SSH tunnel dropped, the backend was terminated. Reconnecting
// later may succeed, unlike after a wrong password or a bad query. See IsConnectionError.
var ErrConnection = errors.New("database connection lost")

// IsConnectionError reports whether err is due to a lost or refused connection (it wraps
// ErrConnection, or a DialFunc's error says so), so that reconnecting and trying again may
// succeed.
func IsConnectionError(err error) bool {
	if errors.Is(err, ErrConnection) {
		return true
	}
	lost, ok := dialVerdict(err)
	return ok && lost
}

// connectionErrorer is the seam through which a DialFunc classifies its errors: catalog
// cannot know the dialer's error types (an SSH tunnel's live in a package of their own,
// which knows nothing of catalog), so the error says itself whether reconnecting may help.
type connectionErrorer interface {
	ConnectionError() bool
}

// dialVerdict returns what an error in err's chain with a ConnectionError method says, and
// whether there was one.
func dialVerdict(err error) (lost, ok bool) {
	var ce connectionErrorer
	if errors.As(err, &ce) {
		return ce.ConnectionError(), true
	}
	return false, false
}

// DBConfig says how to reach Mastodon's PostgreSQL database.
type DBConfig struct {
	Host     string // host name, IP address or Unix socket directory; "" = libpq's default (PGHOST, else localhost)
	Port     int    // TCP port; 0 = 5432 (or PGPORT)
	User     string // "" = PGUSER, else the OS user
	Password string // "" = PGPASSWORD or ~/.pgpass; never printed
	Database string // "" = PGDATABASE, else the user name
	SSLMode  string // libpq sslmode: disable, allow, prefer, require, verify-ca, verify-full; "" = prefer

	// ConnectTimeout bounds connecting, including authentication; 0 = 30 seconds.
	ConnectTimeout time.Duration

	// DialFunc, when set, is used to reach the server (an SSH tunnel plugs in here) and the
	// host name is handed to it unresolved; nil = direct TCP (or Unix socket). An error it
	// returns with a method ConnectionError() bool is a connection error (IsConnectionError)
	// exactly when that method says so: a dropped tunnel is worth reconnecting, a refused
	// login is not.
	DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DefaultConnectTimeout is the ConnectTimeout used when DBConfig leaves it zero.
const DefaultConnectTimeout = 30 * time.Second

// String returns "user@host:port/database" without the password, for logs and errors.
func (c DBConfig) String() string {
	s := c.Address()
	if c.User != "" {
		s = c.User + "@" + s
	}
	return s
}

// GoString keeps %#v from printing the password.
func (c DBConfig) GoString() string {
	pw := ""
	if c.Password != "" {
		pw = "[redacted]"
	}
	return fmt.Sprintf("catalog.DBConfig{Host:%q, Port:%d, User:%q, Password:%q, Database:%q, SSLMode:%q}",
		c.Host, c.Port, c.User, pw, c.Database, c.SSLMode)
}

// Address returns "host:port/database" as configured, with "" parts left empty but the port defaulting to 5432.
func (c DBConfig) Address() string {
	port := c.Port
	if port == 0 {
		port = 5432
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port)) + "/" + c.Database
}

// ConnConfig returns the pgx configuration for c. It is built from a keyword/value string
// that holds everything but the password, which is set on the parsed config afterwards, so
// no string with the password in it ever exists. Environment variables (PGHOST, ...) fill
// the fields c leaves empty, as in libpq.
func (c DBConfig) ConnConfig() (*pgx.ConnConfig, error) {
	var kv []string
	add := func(k, v string) {
		if v != "" {
			kv = append(kv, k+"="+quoteConnValue(v))
		}
	}
	add("host", c.Host)
	if c.Port != 0 {
		add("port", strconv.Itoa(c.Port))
	}
	add("user", c.User)
	add("dbname", c.Database)
	add("sslmode", c.SSLMode)
	add("application_name", "s3sync")
	cc, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, err
	}
	if c.Password != "" {
		cc.Password = c.Password
	}
	cc.ConnectTimeout = c.ConnectTimeout
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = DefaultConnectTimeout
	}
	if c.DialFunc != nil {
		cc.DialFunc = c.DialFunc
		// The tunnel's far end resolves the name; resolving it here could fail or differ.
		cc.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	// Plain extended protocol without named prepared statements: works through PgBouncer
	// in transaction pooling mode, which Mastodon installations often use.
	cc.DefaultQueryExecMode = pgx.QueryExecModeExec
	return cc, nil
}

// quoteConnValue quotes v for a libpq keyword/value connection string.
func quoteConnValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// Reader reads Mastodon's tables over one connection. Its methods may be called from several
// goroutines but run one query at a time; Scan holds no query open while its callback runs,
// so the callback may call Count.
type Reader struct {
	mu     sync.Mutex
	conn   *pgx.Conn
	cfg    DBConfig             // for Reconnect
	schema string               // current_schema() at Open, the schema queried
	tables map[Kind]*tableShape // nil entry: the table does not exist
	layout Layout               // the release whose layout rules the tables show
	label  string               // host:port/database for errors
}

// tableShape is what schema detection learned about one table.
type tableShape struct {
	columns map[string]bool
}

func (t *tableShape) has(col string) bool { return t != nil && t.columns[col] }

// Open connects to the database, pings it and detects which tables and optional columns
// exist. Its errors are one line, name host:port/database and never contain the password;
// those a lost or refused connection caused wrap ErrConnection.
func Open(ctx context.Context, cfg DBConfig) (*Reader, error) {
	conn, label, password, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r := &Reader{conn: conn, cfg: cfg, label: label}
	if err := r.detect(ctx); err != nil {
		conn.Close(context.Background())
		return nil, openFailure("detect schema of", label, password, err)
	}
	return r, nil
}

// connect opens and pings a connection, returning it with the effective host:port/database
// and password; its errors are openErrors.
func connect(ctx context.Context, cfg DBConfig) (conn *pgx.Conn, label, password string, err error) {
	label, password = cfg.Address(), cfg.Password
	cc, err := cfg.ConnConfig()
	if err != nil {
		return nil, label, password, openFailure("configure", label, password, err)
	}
	// The effective values, which PGHOST, PGPASSWORD and the like may have supplied.
	label = net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))) + "/" + cc.Database
	password = cc.Password
	conn, err = pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, label, password, openFailure("connect", label, password, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close(context.Background())
		return nil, label, password, openFailure("ping", label, password, err)
	}
	return conn, label, password, nil
}

// openFailure makes the openError of operation op on the database label.
func openFailure(op, label, password string, err error) error {
	cause := contextCause(err)
	if cause == nil && transient(err) {
		cause = ErrConnection
	}
	return &openError{
		msg:   fmt.Sprintf("catalog: %s %s: %s", op, label, text.OneLine(text.Redact(err.Error(), password))),
		cause: cause,
	}
}

// transient reports whether a failed connect or query may succeed on a new connection:
// network errors, a server starting up or shutting down, a terminated backend, an SSH tunnel
// that lost its connection. Authentication and query errors are not.
func transient(err error) bool {
	if lost, ok := dialVerdict(err); ok {
		return lost
	}
	if errors.Is(err, ErrConnection) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", // admin_shutdown: terminated by pg_terminate_backend or a restart
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03", // cannot_connect_now: starting up or shutting down
			pe.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// openError is an error of Open: a one-line message free of the password. It unwraps only
// to a context error or ErrConnection, so callers can tell an interrupted or lost connect
// from a failed one without reaching the driver's error, which holds the whole configuration.
type openError struct {
	msg   string
	cause error // context.Canceled, context.DeadlineExceeded, ErrConnection or nil
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.cause }

// contextCause returns the context error err wraps, or nil.
func contextCause(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// Close closes the connection. The Reader cannot be used afterwards.
func (r *Reader) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.conn.Close(ctx)
		r.conn = nil
	}
}

// Reconnect replaces the Reader's connection with a new one made from the same DBConfig,
// after a query failed with a connection error (IsConnectionError). A DialFunc is used
// again, so an SSH Tunnel first replaces an SSH connection that was lost. The schema
// detected by Open is kept. Its errors are those of Open; the Reader stays usable for
// another Reconnect after a failed one.
func (r *Reader) Reconnect(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return errClosed
	}
	closeCtx, cancel := context.WithTimeout(ctx, time.Second)
	_ = r.conn.Close(closeCtx)
	cancel()
	conn, _, _, err := connect(ctx, r.cfg)
	if err != nil {
		return err
	}
	r.conn = conn
	return nil
}

// Available reports whether the kind's table exists in this database.
func (r *Reader) Available(kind Kind) bool {
	return r.tables[kind] != nil
}

// HasColumn reports whether the kind's table exists and has the named column.
func (r *Reader) HasColumn(kind Kind, column string) bool {
	return r.tables[kind].has(column)
}

// Layout returns the Mastodon release whose layout rules the database follows, as detected
// from its tables and columns; every Record Scan and Lookup produce carries it.
func (r *Reader) Layout() Layout { return r.layout }

// layoutOf tells the release from what each one added to the tables s3sync reads, which
// holds whatever schema_migrations says (a patch release of a stable branch, a development
// snapshot): preview_card_providers came with 3.5 (Mastodon's Gemfile switched to
// kt-paperclip for it), site_uploads blurhash with 4.0's thumbnail styles
// (app/models/site_upload.rb), preview_cards published_at (db/migrate/20230724160715) with
// 4.2, whose app/models/media_attachment.rb converts AVIF. A database
// with none of those tables is taken for the newest release.
func layoutOf(tables map[Kind]*tableShape) Layout {
	switch {
	case tables[PreviewCards] == nil && tables[SiteUploads] == nil:
		return Layout{}
	case tables[PreviewCardProviders] == nil:
		return Layout30
	case tables[SiteUploads] != nil && !tables[SiteUploads].has("blurhash"):
		return Layout35
	case tables[PreviewCards] != nil && !tables[PreviewCards].has("published_at"):
		return Layout40
	}
	return Layout{}
}

// detect reads information_schema once and fills r.schema, r.tables and r.layout.
func (r *Reader) detect(ctx context.Context) error {
	var schema *string
	if err := r.conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return err
	}
	r.tables = make(map[Kind]*tableShape, len(AllKinds))
	if schema == nil { // empty search_path: no Mastodon tables reachable
		return nil
	}
	r.schema = *schema
	names := make([]string, len(AllKinds))
	for i, k := range AllKinds {
		names[i] = k.Table()
	}
	rows, err := r.conn.Query(ctx,
		`SELECT table_name::text FROM information_schema.tables
		 WHERE table_schema = $1 AND table_name = ANY($2)`, r.schema, names)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		r.tables[Kind(name)] = &tableShape{columns: make(map[string]bool)}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = r.conn.Query(ctx,
		`SELECT table_name::text, column_name::text FROM information_schema.columns
		 WHERE table_schema = $1 AND table_name = ANY($2)`, r.schema, names)
	if err != nil {
		return err
	}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			rows.Close()
			return err
		}
		if t := r.tables[Kind(table)]; t != nil {
			t.columns[column] = true
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	r.layout = layoutOf(r.tables)
	return nil
}

// ScanOptions bound a Scan.
type ScanOptions struct {
	Offset   int64 // records to skip first, in id order (the old tool's --offset); 0 = none
	Limit    int64 // records to read at most after the offset; 0 = no limit
	PageSize int   // rows per query and per callback; 0 = DefaultPageSize

	// AfterID, when set, starts the scan after the record with this id, as when resuming
	// after the last page handled; Offset is ignored then. nil = from the first record.
	AfterID *int64
}

// DefaultPageSize is the PageSize used when ScanOptions leaves it zero.
const DefaultPageSize = 1000

// Page is one page of records and the objects they reference.
type Page struct {
	Records int      // rows read in this page
	Skipped int      // attachments skipped: file name NULL or empty, or invalid (see Invalid)
	LastID  int64    // id of the page's last row
	Objects []Object // objects of the page's rows, in id order
	Invalid []string // attachments skipped for a hostile file name, as "table id attachment: reason"
}

// tableQuery is the SELECT built for one kind from the detected columns.
type tableQuery struct {
	kind    Kind
	layout  Layout
	from    string // quoted schema.table
	columns string // select list
	atts    []string
}

// query builds the select list for kind, or says why it cannot: ErrNoTable, or a missing required column.
func (r *Reader) query(kind Kind) (*tableQuery, error) {
	s, ok := specs[kind]
	if !ok {
		return nil, fmt.Errorf("catalog: unknown kind %q (valid: %s)", kind, kindList())
	}
	t := r.tables[kind]
	if t == nil {
		return nil, fmt.Errorf("catalog: table %s: %w", kind.Table(), ErrNoTable)
	}
	col := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	require := func(name string) error {
		if !t.has(name) {
			return fmt.Errorf("catalog: table %s has no column %s: %w", kind.Table(), name, ErrNoColumn)
		}
		return nil
	}
	if err := require("id"); err != nil {
		return nil, err
	}

	// Fixed leading columns: id, remote, suspended (suspended.go), no status, var.
	list := []string{col("id") + "::bigint"}
	switch {
	case s.locality == neverLocal:
		list = append(list, "true")
	case s.locality == byRemoteURL && t.has("remote_url"):
		// MediaAttachment#local? is remote_url.blank?: white space only counts as empty.
		list = append(list, "COALESCE("+col("remote_url")+"::text, '') !~ '^[[:space:]]*$'")
	case s.locality == byDomain && t.has("domain"):
		list = append(list, col("domain")+" IS NOT NULL")
	default:
		list = append(list, "false")
	}
	list = append(list, r.suspendedColumn(kind))
	if kind == MediaAttachments && t.has("status_id") {
		list = append(list, col("status_id")+" IS NULL")
	} else {
		list = append(list, "false")
	}
	if kind == SiteUploads {
		if err := require("var"); err != nil {
			return nil, err
		}
		list = append(list, "COALESCE("+col("var")+"::text, '')")
	} else {
		list = append(list, "''::text")
	}

	q := &tableQuery{kind: kind, layout: r.layout, from: pgx.Identifier{r.schema, kind.Table()}.Sanitize()}
	for _, a := range s.attachments {
		name := a.name + "_file_name"
		if !t.has(name) {
			if a.optional {
				continue
			}
			return nil, require(name)
		}
		q.atts = append(q.atts, a.name)
		list = append(list, col(name)+"::text")
		list = append(list, optionalColumn(t, a.name+"_content_type", "COALESCE(%s::text, '')", "''::text"))
		list = append(list, optionalColumn(t, a.name+"_file_size", "COALESCE(%s::bigint, 0)", "0::bigint"))
		list = append(list, optionalColumn(t, a.name+"_storage_schema_version", "COALESCE(%s::bigint, 0)", "0::bigint"))
	}
	q.columns = strings.Join(list, ", ")
	return q, nil
}

// optionalColumn formats the column through present when it exists, else returns absent.
func optionalColumn(t *tableShape, name, present, absent string) string {
	if !t.has(name) {
		return absent
	}
	return fmt.Sprintf(present, pgx.Identifier{name}.Sanitize())
}

// scanRecord reads one row of q into a Record.
func (q *tableQuery) scanRecord(rows pgx.Rows) (Record, error) {
	return q.scanRecordExtra(rows)
}

// scanRecordExtra is scanRecord for a row with more columns after q's, scanned into extra.
func (q *tableQuery) scanRecordExtra(rows pgx.Rows, extra ...any) (Record, error) {
	rec := Record{Kind: q.kind, Layout: q.layout}
	dest := []any{&rec.ID, &rec.Remote, &rec.Suspended, &rec.NoStatus, &rec.Var}
	type attCols struct {
		name, ct *string
		size     int64
		version  int64
	}
	cols := make([]attCols, len(q.atts))
	for i := range cols {
		dest = append(dest, &cols[i].name, &cols[i].ct, &cols[i].size, &cols[i].version)
	}
	dest = append(dest, extra...)
	if err := rows.Scan(dest...); err != nil {
		return rec, err
	}
	for i, c := range cols {
		f := File{Attachment: q.atts[i], Size: c.size, SchemaVersion: c.version}
		if c.name != nil {
			f.FileName = *c.name
		}
		if c.ct != nil {
			f.ContentType = *c.ct
		}
		rec.Files = append(rec.Files, f)
	}
	return rec, nil
}

// Scan reads the kind's table in id order with keyset pagination (WHERE id > last ORDER BY
// id LIMIT n) and calls fn once per page; the table is never held in memory. An Offset is
// turned into a starting id once, by a single OFFSET query. fn's error stops the scan and is
// returned as is. A kind whose table does not exist gives an error wrapping ErrNoTable.
func (r *Reader) Scan(ctx context.Context, kind Kind, opts ScanOptions, fn func(Page) error) error {
	if opts.Offset < 0 || opts.Limit < 0 || opts.PageSize < 0 {
		return fmt.Errorf("catalog: scan %s: negative offset, limit or page size", kind)
	}
	pageSize := int64(opts.PageSize)
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	q, err := r.query(kind)
	if err != nil {
		return err
	}

	var after int64
	started := false // whether after holds a starting id
	if opts.AfterID != nil {
		after, started = *opts.AfterID, true
	} else if opts.Offset > 0 {
		sql := "SELECT id::bigint FROM " + q.from + " ORDER BY id LIMIT 1 OFFSET $1"
		var id int64
		err := r.locked(func(conn *pgx.Conn) error {
			return conn.QueryRow(ctx, sql, opts.Offset-1).Scan(&id)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // the offset is past the last record
		}
		if err != nil {
			return fmt.Errorf("catalog: scan %s: offset %d: %w", kind, opts.Offset, err)
		}
		after, started = id, true
	}

	first := "SELECT " + q.columns + " FROM " + q.from + " ORDER BY id LIMIT $1"
	next := "SELECT " + q.columns + " FROM " + q.from + " WHERE id > $2 ORDER BY id LIMIT $1"
	var read int64
	for {
		n := pageSize
		if opts.Limit > 0 {
			if left := opts.Limit - read; left < n {
				n = left
			}
			if n <= 0 {
				return nil
			}
		}
		var page Page
		err := r.locked(func(conn *pgx.Conn) error {
			var rows pgx.Rows
			var err error
			if started {
				rows, err = conn.Query(ctx, next, n, after)
			} else {
				rows, err = conn.Query(ctx, first, n)
			}
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				rec, err := q.scanRecord(rows)
				if err != nil {
					return err
				}
				objs, skipped, invalid := rec.Objects()
				page.Records++
				page.LastID = rec.ID
				page.Skipped += skipped
				page.Objects = append(page.Objects, objs...)
				page.Invalid = append(page.Invalid, invalid...)
			}
			return rows.Err()
		})
		if err != nil {
			where := "first page"
			if started {
				where = "after id " + strconv.FormatInt(after, 10)
			}
			return fmt.Errorf("catalog: scan %s %s: %w", kind, where, err)
		}
		if page.Records == 0 {
			return nil
		}
		read += int64(page.Records)
		after, started = page.LastID, true
		if err := fn(page); err != nil {
			return err
		}
		if int64(page.Records) < n {
			return nil
		}
	}
}

// Count returns the exact number of rows in the kind's table. A kind whose table does not
// exist gives an error wrapping ErrNoTable.
func (r *Reader) Count(ctx context.Context, kind Kind) (int64, error) {
	if _, ok := specs[kind]; !ok {
		return 0, fmt.Errorf("catalog: unknown kind %q (valid: %s)", kind, kindList())
	}
	if r.tables[kind] == nil {
		return 0, fmt.Errorf("catalog: table %s: %w", kind.Table(), ErrNoTable)
	}
	var n int64
	err := r.locked(func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{r.schema, kind.Table()}.Sanitize()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: count %s: %w", kind, err)
	}
	return n, nil
}

// errClosed is returned by methods of a closed Reader.
var errClosed = errors.New("reader is closed")

// locked runs fn with the connection while holding the Reader's lock. An error that closed
// the connection (other than a context's) comes back wrapping ErrConnection.
func (r *Reader) locked(fn func(*pgx.Conn) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return errClosed
	}
	err := fn(r.conn)
	if err != nil && contextCause(err) == nil && (r.conn.IsClosed() || transient(err)) {
		return &connError{err}
	}
	return err
}

// connError is a query error caused by a lost connection.
type connError struct{ err error }

func (e *connError) Error() string   { return e.err.Error() }
func (e *connError) Unwrap() []error { return []error{ErrConnection, e.err} }
