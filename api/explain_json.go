package api

import (
	"encoding/json"
	"math"
	"strconv"
)

// AppendJSON appends e as encoding/json writes it, byte for byte
// (TestExplanationJSONIsEncodingJSON holds it to that), without
// reflection: at 1,000 mirrors an explanation is half a megabyte, and
// encoding/json spent more than half of the call's CPU on it. A value
// encoding/json refuses (a NaN or infinite float) is written as null.
func (e *Explanation) AppendJSON(b []byte) []byte {
	b = append(b, `{"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"client":`...)
	b = e.Client.appendJSON(b)
	b = append(b, `,"pool":`...)
	b = appendString(b, e.Pool)
	b = append(b, `,"strategy":`...)
	b = appendString(b, e.Strategy)
	if e.File != nil {
		b = append(b, `,"file":`...)
		b = e.File.appendJSON(b)
	}
	b = append(b, `,"mirrors":`...)
	if e.Mirrors == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range e.Mirrors {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.Mirrors[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"mirror":`...)
	if e.Mirror == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *e.Mirror)
	}
	if e.Note != "" {
		b = append(b, `,"note":`...)
		b = appendString(b, e.Note)
	}
	return append(b, '}')
}

func (c *ExplainedClient) appendJSON(b []byte) []byte {
	b = append(b, `{"ip":`...)
	b = appendString(b, c.IP)
	b = append(b, `,"source":`...)
	b = appendString(b, c.Source)
	b = append(b, `,"country":`...)
	b = appendString(b, c.Country)
	b = append(b, `,"continent":`...)
	b = appendString(b, c.Continent)
	b = append(b, `,"asn":`...)
	b = strconv.AppendUint(b, uint64(c.ASN), 10)
	b = append(b, `,"lat":`...)
	b = appendFloatPtr(b, c.Lat)
	b = append(b, `,"lon":`...)
	b = appendFloatPtr(b, c.Lon)
	b = append(b, `,"https":`...)
	b = strconv.AppendBool(b, c.Secure)
	return append(b, '}')
}

func (f *ExplainedFile) appendJSON(b []byte) []byte {
	b = append(b, `{"scanned":`...)
	b = strconv.AppendBool(b, f.Scanned)
	b = append(b, `,"in_origin":`...)
	b = strconv.AppendBool(b, f.Known)
	b = append(b, `,"size":`...)
	if f.Size == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *f.Size, 10)
	}
	b = append(b, `,"holders":`...)
	b = strconv.AppendInt(b, int64(f.Holders), 10)
	b = append(b, `,"confirmed":`...)
	b = strconv.AppendBool(b, f.Confirmed)
	if f.Answer != "" {
		b = append(b, `,"answer":`...)
		b = appendString(b, f.Answer)
	}
	return append(b, '}')
}

func (m *ExplainedMirror) appendJSON(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, m.Name)
	b = append(b, `,"weight":`...)
	b = appendFloat(b, m.Weight)
	b = append(b, `,"effective_weight":`...)
	b = appendFloat(b, m.EffectiveWeight)
	b = append(b, `,"usable":`...)
	b = strconv.AppendBool(b, m.Usable)
	b = append(b, `,"share":`...)
	b = appendFloat(b, m.Share)
	b = append(b, `,"factors":`...)
	b = m.Factors.appendJSON(b)
	b = append(b, `,"reason":`...)
	b = appendString(b, m.Reason)
	return append(b, '}')
}

func (f *ExplainFactors) appendJSON(b []byte) []byte {
	b = append(b, `{"enabled":`...)
	b = strconv.AppendBool(b, f.Configured)
	b = append(b, `,"drained":`...)
	b = strconv.AppendBool(b, f.Drained)
	b = append(b, `,"health":`...)
	b = appendFloat(b, f.Health)
	b = append(b, `,"headroom":`...)
	b = appendFloat(b, f.Headroom)
	b = append(b, `,"ramp":`...)
	b = appendFloat(b, f.Ramp)
	b = append(b, `,"capacity":`...)
	b = appendFloat(b, f.Capacity)
	b = append(b, `,"floored":`...)
	b = strconv.AppendBool(b, f.Floored)
	b = append(b, `,"up":`...)
	b = strconv.AppendBool(b, f.Up)
	if f.ProbeError != "" {
		b = append(b, `,"probe_error":`...)
		b = appendString(b, f.ProbeError)
	}
	b = append(b, `,"utilization":`...)
	b = appendFloat(b, f.Utilization)
	if f.PollError != "" {
		b = append(b, `,"poll_error":`...)
		b = appendString(b, f.PollError)
	}
	if f.Tier != "" {
		b = append(b, `,"tier":`...)
		b = appendString(b, f.Tier)
	}
	if f.HoldsFile != nil {
		b = append(b, `,"holds_file":`...)
		b = strconv.AppendBool(b, *f.HoldsFile)
	}
	if f.FailedCheck {
		b = append(b, `,"failed_check":true`...)
	}
	b = append(b, `,"reachable":`...)
	b = strconv.AppendBool(b, f.Reachable)
	if len(f.Excluded) > 0 {
		b = append(b, `,"excluded":[`...)
		for i := range f.Excluded {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendString(b, f.Excluded[i].Rule)
			b = append(b, `,"reason":`...)
			b = appendString(b, f.Excluded[i].Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendString quotes s as encoding/json does (with its HTML escaping):
// directly when every byte is printable ASCII that needs no escape, the
// common case, else through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat writes f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21.
// Whole numbers, most weights and factors, skip the shortest-decimal
// search.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	abs, format := math.Abs(f), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// encoding/json writes e-07 as e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func appendFloatPtr(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return appendFloat(b, *f)
}
