package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dispatcher/dispatcher/config"
)

// IF-MIB and SNMPv2-MIB objects read from each agent.
const (
	oidSysUpTime    = "1.3.6.1.2.1.1.3.0"
	oidIfDescr      = "1.3.6.1.2.1.2.2.1.2"
	oidIfSpeed      = "1.3.6.1.2.1.2.2.1.5"
	oidIfInOctets   = "1.3.6.1.2.1.2.2.1.10"
	oidIfOutOctets  = "1.3.6.1.2.1.2.2.1.16"
	oidIfName       = "1.3.6.1.2.1.31.1.1.1.1"
	oidIfHCInOctets = "1.3.6.1.2.1.31.1.1.1.6"
	oidIfHCOutOcts  = "1.3.6.1.2.1.31.1.1.1.10"
	oidIfHighSpeed  = "1.3.6.1.2.1.31.1.1.1.15"
)

// agent is one SNMP agent (a target with its credentials). A gosnmp.GoSNMP
// is not safe for concurrent use: pollers hold mu while they use it.
type agent struct {
	// mu is held while one mirror is polled: a gosnmp client serves one
	// caller at a time, and a run of a replaced configuration may still be
	// polling when the next one starts.
	mu    sync.Mutex
	cfg   config.SNMP
	g     *gosnmp.GoSNMP
	log   *slog.Logger
	index map[string]int // interface name → ifIndex, resolved by walking
}

// community is a string that prints as REDACTED in logs.
type community string

func (community) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func newAgent(cfg config.SNMP, timeout time.Duration, retries int, log *slog.Logger) (*agent, error) {
	host, port, err := net.SplitHostPort(cfg.Target)
	if err != nil {
		return nil, fmt.Errorf("snmp target %q: %w", cfg.Target, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("snmp target %q: bad port", cfg.Target)
	}
	g := &gosnmp.GoSNMP{
		Target:             host,
		Port:               uint16(p),
		Transport:          "udp",
		Community:          cfg.Community,
		Timeout:            timeout,
		Retries:            retries,
		ExponentialTimeout: false,
		MaxOids:            gosnmp.MaxOids,
	}
	switch cfg.Version {
	case "1":
		g.Version = gosnmp.Version1
	case "3":
		g.Version = gosnmp.Version3
		g.SecurityModel = gosnmp.UserSecurityModel
		usm := &gosnmp.UsmSecurityParameters{UserName: cfg.User}
		g.MsgFlags = gosnmp.NoAuthNoPriv
		if cfg.AuthProtocol != "" {
			g.MsgFlags = gosnmp.AuthNoPriv
			usm.AuthenticationProtocol = authProtocol(cfg.AuthProtocol)
			usm.AuthenticationPassphrase = cfg.AuthPassword
		}
		if cfg.PrivProtocol != "" {
			g.MsgFlags = gosnmp.AuthPriv
			usm.PrivacyProtocol = privProtocol(cfg.PrivProtocol)
			usm.PrivacyPassphrase = cfg.PrivPassword
		}
		g.SecurityParameters = usm
		g.ContextName = cfg.ContextName
	default:
		g.Version = gosnmp.Version2c
	}
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("snmp target %s: %w", cfg.Target, err)
	}
	return &agent{cfg: cfg, g: g, index: map[string]int{},
		log: log.With("target", cfg.Target, "community", community(cfg.Community))}, nil
}

func authProtocol(s string) gosnmp.SnmpV3AuthProtocol {
	switch strings.ToUpper(s) {
	case "MD5":
		return gosnmp.MD5
	case "SHA224":
		return gosnmp.SHA224
	case "SHA256":
		return gosnmp.SHA256
	case "SHA384":
		return gosnmp.SHA384
	case "SHA512":
		return gosnmp.SHA512
	}
	return gosnmp.SHA
}

func privProtocol(s string) gosnmp.SnmpV3PrivProtocol {
	switch strings.ToUpper(s) {
	case "DES":
		return gosnmp.DES
	case "AES192":
		return gosnmp.AES192
	case "AES256":
		return gosnmp.AES256
	}
	return gosnmp.AES
}

func (a *agent) close() {
	if a.g.Conn != nil {
		a.g.Conn.Close() //nolint:errcheck // a UDP socket
	}
}

// describe turns a gosnmp error into words that name the target and the
// time spent, spelling out a timeout (snmp_exporter does the same).
func (a *agent) describe(what string, start time.Time, err error) error {
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("snmp %s on %s: no answer within %s (the poll's deadline)", what, a.cfg.Target, took)
	case strings.Contains(err.Error(), "timeout"):
		return fmt.Errorf("snmp %s on %s: no answer after %s (agent down, wrong community or filtered)", what, a.cfg.Target, took)
	case strings.Contains(err.Error(), "connection refused"):
		return fmt.Errorf("snmp %s on %s: no agent listening (connection refused)", what, a.cfg.Target)
	}
	return fmt.Errorf("snmp %s on %s: %w", what, a.cfg.Target, err)
}

// ifIndex returns the interface index of cfg: if_index as configured, or
// the interface name looked up by walking ifName, then ifDescr. resolve
// forces a new walk (after an agent restart indexes may change).
func (a *agent) ifIndex(ctx context.Context, name string, index int, resolve bool) (int, error) {
	if index > 0 {
		return index, nil
	}
	if i, ok := a.index[name]; ok && !resolve {
		return i, nil
	}
	var seen []string
	for _, root := range []string{oidIfName, oidIfDescr} {
		pdus, err := a.walk(ctx, root)
		if err != nil {
			return 0, err
		}
		for _, p := range pdus {
			v, ok := p.Value.([]byte)
			if !ok {
				continue
			}
			seen = append(seen, string(v))
			if string(v) == name {
				i, err := strconv.Atoi(p.Name[strings.LastIndexByte(p.Name, '.')+1:])
				if err != nil {
					continue
				}
				a.index[name] = i
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("interface %q not found on %s (it has: %s)", name, a.cfg.Target, strings.Join(dedupe(seen), ", "))
}

func (a *agent) walk(ctx context.Context, root string) ([]gosnmp.SnmpPDU, error) {
	start := time.Now()
	a.g.Context = ctx
	var pdus []gosnmp.SnmpPDU
	var err error
	if a.g.Version == gosnmp.Version1 {
		pdus, err = a.g.WalkAll(root)
	} else {
		pdus, err = a.g.BulkWalkAll(root)
	}
	if err != nil {
		return nil, a.describe("walk "+root, start, err)
	}
	return pdus, nil
}

// sample reads the counters of interface idx in one GET: the 64-bit ones,
// or the 32-bit ones when the agent has no 64-bit counters (SNMPv1 agents).
func (a *agent) sample(ctx context.Context, idx int) (Sample, error) {
	i := "." + strconv.Itoa(idx)
	s, err := a.get(ctx, []string{oidSysUpTime, oidIfHCOutOcts + i, oidIfHCInOctets + i, oidIfHighSpeed + i}, 64, 1e6)
	if err == nil || !errors.Is(err, errNoObject) {
		return s, err
	}
	return a.get(ctx, []string{oidSysUpTime, oidIfOutOctets + i, oidIfInOctets + i, oidIfSpeed + i}, 32, 1)
}

var errNoObject = errors.New("no such object")

func (a *agent) get(ctx context.Context, oids []string, bits int, speedUnit float64) (Sample, error) {
	start := time.Now()
	a.g.Context = ctx
	pkt, err := a.g.Get(oids)
	if err != nil {
		return Sample{}, a.describe("get", start, err)
	}
	if pkt.Error == gosnmp.NoSuchName {
		// SNMPv1 answers a missing object with an error for the whole PDU.
		return Sample{}, errNoObject
	}
	if pkt.Error != gosnmp.NoError {
		return Sample{}, fmt.Errorf("snmp get on %s: %s", a.cfg.Target, pkt.Error)
	}
	s := Sample{Bits: bits, At: time.Now()}
	for _, v := range pkt.Variables {
		if v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance {
			if strings.TrimPrefix(v.Name, ".") == oidSysUpTime {
				continue
			}
			return Sample{}, fmt.Errorf("%w: %s on %s", errNoObject, v.Name, a.cfg.Target)
		}
		n := toUint(v.Value)
		switch name := strings.TrimPrefix(v.Name, "."); {
		case name == oidSysUpTime:
			s.Uptime = uint32(n)
		case strings.HasPrefix(name, oidIfHCOutOcts+"."), strings.HasPrefix(name, oidIfOutOctets+"."):
			s.OutOctets = n
		case strings.HasPrefix(name, oidIfHCInOctets+"."), strings.HasPrefix(name, oidIfInOctets+"."):
			s.InOctets = n
		case strings.HasPrefix(name, oidIfHighSpeed+"."), strings.HasPrefix(name, oidIfSpeed+"."):
			s.SpeedBps = float64(n) * speedUnit
		}
	}
	a.log.Debug("snmp get", "oids", oids, "duration_seconds", time.Since(start).Seconds())
	return s, nil
}

func toUint(v any) uint64 {
	b := gosnmp.ToBigInt(v)
	if b == nil || b.Sign() < 0 || b.Cmp(new(big.Int).SetUint64(^uint64(0))) > 0 {
		return 0
	}
	return b.Uint64()
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
