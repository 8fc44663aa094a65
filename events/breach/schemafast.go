package breach

import (
	"encoding/json"
	"time"
)

// schemaFastOK is a hand-written sufficient condition for the breach event
// schema: when it returns true, the schema (events/schema/
// breach-event.schema.json) is certain to accept obj, so Decode skips the
// generic validator, which costs more than the rest of Decode together.
// When it returns false, nothing is concluded: Decode runs the JSON Schema
// validator, which decides and words the refusal. So the schema stays the
// contract; this only recognises the common, plainly valid event. It is
// deliberately stricter than the schema where the schema is subtle (lengths
// are counted in bytes, which bound the code points the schema counts;
// source is a plain path or scheme:opaque URI reference; time is RFC 3339
// with an uppercase T and Z and no leap second; an event with dataschema
// always goes to the validator). TestDecodeMatchesReference and FuzzDecode
// compare Decode with the decoder that always validates.
//
// Rules, in schema order: required attributes; specversion "1.0"; id 1-200;
// source 1-500 uri-reference; type pattern; subject token; time date-time;
// datacontenttype "application/json"; sigkeyid and signature patterns and
// both-or-neither; every attribute name ^[a-z0-9]{1,20}$; extension values
// scalar; data: exactly the six fields, bot a token (or "" when the type is
// account_leaked), exchange pattern, key_id at most 256, severity enum,
// source 1-200, evidence an object.
func schemaFastOK(obj map[string]any) bool {
	if len(obj) < 8 {
		return false // fewer than the required attributes
	}
	required := 0
	for k, v := range obj {
		if !attrName(k) {
			return false
		}
		s, isStr := v.(string)
		switch k {
		case "specversion":
			if s != SpecVersion || !isStr {
				return false
			}
		case "id":
			if !isStr || len(s) < 1 || len(s) > 200 {
				return false
			}
		case "source":
			if !isStr || len(s) < 1 || len(s) > 500 || !plainURIReference(s) {
				return false
			}
		case "type":
			if !isStr || !typeOK(s) {
				return false
			}
		case "subject":
			if !isStr || !ValidToken(s) {
				return false
			}
		case "time":
			if !isStr || !plainDateTime(s) {
				return false
			}
		case "datacontenttype":
			if s != DataContentType || !isStr {
				return false
			}
		case "dataschema":
			return false // format uri: leave it to the validator
		case "sigkeyid":
			if !isStr || !keyIDRe.MatchString(s) {
				return false
			}
			continue
		case "signature":
			if !isStr || !signatureOK(s) {
				return false
			}
			continue
		case "data":
			continue // below, once type is known
		default: // extension attribute: scalar
			switch v.(type) {
			case string, json.Number, bool:
			default:
				return false
			}
			continue
		}
		required++
	}
	_, hasKey := obj["sigkeyid"]
	_, hasSig := obj["signature"]
	if required != 7 || hasKey != hasSig {
		return false
	}
	data, ok := obj["data"].(map[string]any)
	if !ok || len(data) != 6 {
		return false
	}
	typ, _ := obj["type"].(string)
	bot, ok := data["bot"].(string)
	if !ok {
		return false
	}
	if typ == TypePrefix+KindAccountLeaked {
		if bot != "" {
			return false
		}
	} else if !ValidToken(bot) {
		return false
	}
	exchange, ok := data["exchange"].(string)
	if !ok || !exchangeOK(exchange) {
		return false
	}
	if keyID, ok := data["key_id"].(string); !ok || len(keyID) > 256 {
		return false
	}
	switch sev, _ := data["severity"].(string); Severity(sev) {
	case SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical:
	default:
		return false
	}
	if src, ok := data["source"].(string); !ok || len(src) < 1 || len(src) > 200 {
		return false
	}
	_, ok = data["evidence"].(map[string]any)
	return ok
}

// attrName is the propertyNames pattern ^[a-z0-9]{1,20}$.
func attrName(k string) bool {
	if len(k) < 1 || len(k) > 20 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// typeOK is ^io\.keyresponse\.breach\.[a-z0-9_]{1,64}$.
func typeOK(s string) bool {
	if len(s) <= len(TypePrefix) || s[:len(TypePrefix)] != TypePrefix || len(s)-len(TypePrefix) > 64 {
		return false
	}
	for i := len(TypePrefix); i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// exchangeOK is ^[a-z0-9_-]{1,32}$.
func exchangeOK(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// signatureOK is ^[A-Za-z0-9+/]{43}=$.
func signatureOK(s string) bool {
	if len(s) != 44 || s[43] != '=' {
		return false
	}
	for i := 0; i < 43; i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// plainURIReference accepts a subset of what format uri-reference (Go's
// url.Parse) accepts: an absolute path ("/monitoring/alertmanager") or
// scheme ":" opaque-or-path ("urn:keyresponse:cli"), made only of RFC 3986
// unreserved, sub-delims, ':', '@' and '/' (no '%', '?', '#', '\',
// brackets or spaces), never "//" where an authority could start.
func plainURIReference(s string) bool {
	rest := s
	if s[0] != '/' {
		i := 0
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z' ||
			i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			i++
		}
		if i == 0 || i == len(s) || s[i] != ':' {
			return false
		}
		rest = s[i+1:]
	}
	if len(rest) >= 2 && rest[0] == '/' && rest[1] == '/' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~': // unreserved
		case c == '!', c == '$', c == '&', c == '\'', c == '(', c == ')', c == '*', c == '+', c == ',', c == ';', c == '=': // sub-delims
		case c == ':', c == '@', c == '/':
		default:
			return false
		}
	}
	return true
}

// plainDateTime accepts a subset of format date-time: YYYY-MM-DDTHH:MM:SS,
// optional fraction, then Z or ±HH:MM, uppercase T and Z, seconds 00-59,
// offset hours 00-23, and a real calendar date.
func plainDateTime(s string) bool {
	n := len(s)
	if n < 20 {
		return false
	}
	digits := func(from, to int) bool {
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	if !digits(0, 4) || s[4] != '-' || !digits(5, 7) || s[7] != '-' || !digits(8, 10) || s[10] != 'T' ||
		!digits(11, 13) || s[13] != ':' || !digits(14, 16) || s[16] != ':' || !digits(17, 19) {
		return false
	}
	if two(11) > 23 || two(14) > 59 || two(17) > 59 {
		return false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return false
		}
		i = j
	}
	switch {
	case i == n-1 && s[i] == 'Z':
	case i == n-6 && (s[i] == '+' || s[i] == '-') && digits(i+1, i+3) && s[i+3] == ':' && digits(i+4, i+6):
		if two(i+1) > 23 || two(i+4) > 59 {
			return false
		}
	default:
		return false
	}
	_, err := time.Parse("2006-01-02", s[:10])
	return err == nil
}
