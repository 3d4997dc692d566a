package redis

import (
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald"
)

// TestClientConfigForms: each way to name a Redis gives the topology and
// the go-redis options it says, and the description for logs carries no
// credentials.
func TestClientConfigForms(t *testing.T) {
	p, err := ClientConfig{}.parse()
	if err != nil || p.topology != TopologySingle || p.single.Addr != "127.0.0.1:6379" {
		t.Fatalf("zero config: %+v, %v", p, err)
	}

	p, err = ClientConfig{URL: "redis-sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/mymaster/3?sentinel_password=sp%26x&sentinel_username=sen"}.parse()
	if err != nil {
		t.Fatal(err)
	}
	f := p.failover
	if p.topology != TopologySentinel || f.MasterName != "mymaster" || f.DB != 3 || f.Password != "s3cret" ||
		f.SentinelPassword != "sp&x" || f.SentinelUsername != "sen" ||
		!slices.Equal(f.SentinelAddrs, []string{"10.0.0.1:26379", "10.0.0.2:26380"}) || f.TLSConfig != nil {
		t.Fatalf("sentinel URL: %+v", f)
	}

	p, err = ClientConfig{Sentinels: []string{"s1:26379"}, MasterName: "m", SentinelPassword: "sp", Password: "pw"}.parse()
	if err != nil || p.topology != TopologySentinel || p.failover.SentinelPassword != "sp" || p.failover.Password != "pw" {
		t.Fatalf("sentinel list: %+v, %v", p, err)
	}

	p, err = ClientConfig{URL: "rediss-cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001"}.parse()
	if err != nil {
		t.Fatal(err)
	}
	c := p.cluster
	if p.topology != TopologyCluster || c.Username != "user" || c.Password != "pw" || c.TLSConfig == nil ||
		!slices.Equal(c.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7001"}) || p.node.Password != "pw" || p.node.TLSConfig == nil {
		t.Fatalf("cluster URL: %+v", c)
	}

	p, err = ClientConfig{ClusterAddrs: []string{"a:1", "b:2"}, Password: "pw"}.parse()
	if err != nil || p.topology != TopologyCluster || p.cluster.Password != "pw" || p.cluster.MaxRetries != -1 {
		t.Fatalf("cluster list: %+v, %v", p, err)
	}

	for _, cfg := range []ClientConfig{
		{URL: "redis://:s3cret@h:1/0"},
		{URL: "redis-sentinel://:s3cret@h:1/m?sentinel_password=s3cret"},
		{URL: "redis-cluster://u:s3cret@h:1"},
	} {
		cl, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(cl.String(), "s3cret") || cl.String() == "" {
			t.Errorf("%v described as %q", cl.Topology(), cl.String())
		}
		if cfg.Topology() != cl.Topology() {
			t.Errorf("ClientConfig.Topology %v, client %v", cfg.Topology(), cl.Topology())
		}
		cl.Close()
	}
}

// TestClientConfigRefusals: an incomplete or contradictory configuration is
// an EINVALID error naming what to fix, and never quotes a password.
func TestClientConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		cfg  ClientConfig
		want string
	}{
		{ClientConfig{URL: "http://s3cret@x"}, "REDIS_URL"},
		{ClientConfig{URL: "redis://h:1", ClusterAddrs: []string{"h:2"}}, "one of"},
		{ClientConfig{Sentinels: []string{"h:1"}}, "REDIS_MASTER_NAME"},
		{ClientConfig{MasterName: "m"}, "REDIS_SENTINELS"},
		{ClientConfig{URL: "redis://h:1", Password: "s3cret"}, "REDIS_PASSWORD"},
		{ClientConfig{URL: "redis://h:1", SentinelPassword: "s3cret"}, "Sentinel"},
		{ClientConfig{ClusterAddrs: []string{"h:1"}, SentinelPassword: "s3cret"}, "Sentinel"},
		{ClientConfig{ClusterAddrs: []string{"nohost"}}, "host:port"},
		{ClientConfig{Sentinels: []string{"h:99999"}, MasterName: "m"}, "host:port"},
		{ClientConfig{URL: "redis-sentinel://:s3cret@h:1"}, "names the primary"},
		{ClientConfig{URL: "redis-sentinel://h:1/m/x"}, "database"},
		{ClientConfig{URL: "redis-sentinel://h:1/m?password=s3cret"}, "unknown parameter"},
		{ClientConfig{URL: "redis-cluster://h:1/0"}, "lists nodes only"},
		{ClientConfig{URL: "redis-cluster://:s3cret@h:1,,h:2"}, "host:port"},
		{ClientConfig{URL: "redis-cluster://:s3%zz@h:1"}, "escape"},
	} {
		err := tc.cfg.Check()
		if herald.CodeOf(err) != herald.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want EINVALID naming %q", tc.cfg, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: the error quotes the password: %v", tc.cfg, err)
		}
	}
}

// FuzzClientURL parses REDIS_URL forms: never a panic, an EINVALID error
// or options of the URL's topology, and never the password in an error.
func FuzzClientURL(f *testing.F) {
	for _, seed := range [][2]string{
		{"redis", "h:1/0"},
		{"redis-sentinel", "h:1,h:2/master/3?sentinel_password=sp"},
		{"rediss-sentinel", "h:1/m"},
		{"redis-cluster", "h:1,h:2,h:3"},
		{"rediss-cluster", "[::1]:7000"},
		{"redis-cluster", "h:1/0?x=%zz"},
		{"redis-sentinel", "@@h:1,,/m/%2F"},
	} {
		f.Add(seed[0], seed[1])
	}
	const secret = "s3cretPW"
	f.Fuzz(func(t *testing.T, scheme, rest string) {
		if strings.Contains(scheme+rest, secret) {
			return
		}
		raw := scheme + "://user:" + secret + "@" + rest
		p, err := ClientConfig{URL: raw}.parse()
		if err != nil {
			if herald.CodeOf(err) != herald.EINVALID {
				t.Fatalf("%q: %v, not EINVALID", raw, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("%q: the error quotes the password: %v", raw, err)
			}
			return
		}
		switch {
		case strings.HasSuffix(scheme, "-sentinel"):
			if p.topology != TopologySentinel || p.failover.MasterName == "" || len(p.failover.SentinelAddrs) == 0 {
				t.Fatalf("%q parsed as %+v", raw, p)
			}
		case strings.HasSuffix(scheme, "-cluster"):
			if p.topology != TopologyCluster || len(p.cluster.Addrs) == 0 {
				t.Fatalf("%q parsed as %+v", raw, p)
			}
		}
		if strings.Contains(p.desc, secret) {
			t.Fatalf("%q described as %q", raw, p.desc)
		}
	})
}
