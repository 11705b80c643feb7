package inmem

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// fabric is the network between a test's cluster nodes: every raft
// connection goes through it (withClusterStream), so a test can cut a
// direction between two nodes (a partition is both directions), or slow
// it down. A cut closes the connections that try to cross it: what was in
// flight is lost, as on a network that drops packets until the sender
// gives up.
type fabric struct {
	mu    sync.Mutex
	ids   map[string]string // raft address -> node ID
	cut   map[[2]string]bool
	delay map[[2]string]time.Duration
}

var errFabricCut = errors.New("fabric: the link is cut")

func newFabric() *fabric {
	return &fabric{ids: map[string]string{}, cut: map[[2]string]bool{}, delay: map[[2]string]time.Duration{}}
}

func (f *fabric) register(id, addr string) {
	f.mu.Lock()
	f.ids[addr] = id
	f.mu.Unlock()
}

func (f *fabric) isCut(from, to string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cut[[2]string{from, to}]
}

func (f *fabric) delayOf(from, to string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delay[[2]string{from, to}]
}

// cutLink drops everything from one node to another (one way).
func (f *fabric) cutLink(from, to string) {
	f.mu.Lock()
	f.cut[[2]string{from, to}] = true
	f.mu.Unlock()
}

// slow delays every write from one node to another.
func (f *fabric) slow(from, to string, d time.Duration) {
	f.mu.Lock()
	f.delay[[2]string{from, to}] = d
	f.mu.Unlock()
}

// heal restores every link.
func (f *fabric) heal() {
	f.mu.Lock()
	clear(f.cut)
	clear(f.delay)
	f.mu.Unlock()
}

// stream returns the stream layer wrapper of node self.
func (f *fabric) stream(self string) func(raft.StreamLayer) raft.StreamLayer {
	return func(s raft.StreamLayer) raft.StreamLayer { return &fabricStream{StreamLayer: s, f: f, self: self} }
}

type fabricStream struct {
	raft.StreamLayer
	f    *fabric
	self string
}

// Dial connects and names the dialer in a first byte-counted string, so
// the accepting side knows which link the connection is.
func (s *fabricStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s.f.mu.Lock()
	peer := s.f.ids[string(addr)]
	s.f.mu.Unlock()
	if s.f.isCut(s.self, peer) {
		return nil, errFabricCut
	}
	conn, err := s.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(append([]byte{byte(len(s.self))}, s.self...)); err != nil {
		conn.Close()
		return nil, err
	}
	return &fabricConn{Conn: conn, f: s.f, self: s.self, peer: peer}, nil
}

func (s *fabricStream) Accept() (net.Conn, error) {
	for {
		conn, err := s.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		var n [1]byte
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			conn.Close()
			continue
		}
		id := make([]byte, n[0])
		if _, err := io.ReadFull(conn, id); err != nil {
			conn.Close()
			continue
		}
		_ = conn.SetReadDeadline(time.Time{})
		return &fabricConn{Conn: conn, f: s.f, self: s.self, peer: string(id)}, nil
	}
}

type fabricConn struct {
	net.Conn
	f          *fabric
	self, peer string
}

func (c *fabricConn) Write(p []byte) (int, error) {
	if d := c.f.delayOf(c.self, c.peer); d > 0 {
		time.Sleep(d)
	}
	if c.f.isCut(c.self, c.peer) {
		c.Conn.Close()
		return 0, errFabricCut
	}
	return c.Conn.Write(p)
}

func (c *fabricConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.f.isCut(c.peer, c.self) {
		c.Conn.Close()
		return 0, errFabricCut
	}
	return n, err
}
