package admission

import (
	"bytes"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scanReview reads a review as the API server writes it, in one pass over
// the body, into what json.Unmarshal would give for admissionReview: a
// fifth of encoding/json's time, which checks the whole body once and then
// decodes it a second time, stepping through every byte of the objects it
// only keeps.
//
// It validates every byte as encoding/json does, and declines (ok false)
// whatever it does not read the same way: keys with escapes, non-ASCII keys
// or keys that match a field only case-insensitively, a field given twice,
// values of a field's wrong type or null where a field keeps its zero value,
// strings with escapes or invalid UTF-8 in the fields kept, and invalid or
// too deeply nested JSON. decodeReview then decodes with encoding/json,
// which gives the same result or the error.
func scanReview(body []byte) (review admissionReview, ok bool) {
	s := scanner{b: body}
	var seenAPIVersion, seenRequest bool
	ok = s.object(func(key []byte) bool {
		switch string(key) {
		case "apiVersion":
			return once(&seenAPIVersion) && s.str(&review.APIVersion)
		case "request":
			if !once(&seenRequest) {
				return false
			}
			review.Request = new(admissionRequest)
			return s.request(review.Request)
		}
		return s.unknown(key, "apiVersion", "request")
	})
	s.space()
	return review, ok && s.i == len(s.b) && review.Request != nil
}

// request reads an admissionRequest object.
func (s *scanner) request(r *admissionRequest) bool {
	var seen [10]bool
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "uid":
			return once(&seen[0]) && s.str((*string)(&r.UID))
		case "kind":
			return once(&seen[1]) && s.kind(&r.Kind)
		case "requestKind":
			if !once(&seen[2]) {
				return false
			}
			if s.null() {
				return true
			}
			r.RequestKind = new(metav1.GroupVersionKind)
			return s.kind(r.RequestKind)
		case "name":
			return once(&seen[3]) && s.str(&r.Name)
		case "namespace":
			return once(&seen[4]) && s.str(&r.Namespace)
		case "operation":
			return once(&seen[5]) && s.str((*string)(&r.Operation))
		case "userInfo":
			return once(&seen[6]) && s.userInfo(&r.UserInfo.Username)
		case "object":
			return once(&seen[7]) && s.raw((*[]byte)(&r.Object))
		case "oldObject":
			return once(&seen[8]) && s.raw((*[]byte)(&r.OldObject))
		}
		return s.unknown(key, "uid", "kind", "requestKind", "name", "namespace", "operation", "userInfo", "object", "oldObject")
	})
}

// kind reads a GroupVersionKind object.
func (s *scanner) kind(k *metav1.GroupVersionKind) bool {
	var seen [3]bool
	return s.object(func(key []byte) bool {
		switch string(key) {
		case "group":
			return once(&seen[0]) && s.str(&k.Group)
		case "version":
			return once(&seen[1]) && s.str(&k.Version)
		case "kind":
			return once(&seen[2]) && s.str(&k.Kind)
		}
		return s.unknown(key, "group", "version", "kind")
	})
}

// userInfo reads the username of a userInfo object.
func (s *scanner) userInfo(username *string) bool {
	var seen bool
	return s.object(func(key []byte) bool {
		if string(key) == "username" {
			return once(&seen) && s.str(username)
		}
		return s.unknown(key, "username")
	})
}

// once marks a field seen; it is false the second time, when
// encoding/json would overwrite or merge.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// maxScanDepth is encoding/json's nesting limit: deeper input is declined,
// and encoding/json reports it.
const maxScanDepth = 10000

// scanner walks JSON in place. Every method starts at optional white space
// before its value and returns false on input it declines.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next returns the byte after white space, or 0 at the end.
func (s *scanner) next() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads an object, calling field for each key with the scanner
// before the key's value; field reads the value. A nil field skips every
// value, and takes keys with escapes.
func (s *scanner) object(field func(key []byte) bool) bool {
	if s.next() != '{' || !s.enter() {
		return false
	}
	s.i++
	if s.next() == '}' {
		s.i++
		s.depth--
		return true
	}
	for {
		var key []byte
		ok := false
		if field == nil {
			ok = s.next() == '"' && s.skipString()
		} else {
			key, ok = s.plain()
		}
		if !ok || s.next() != ':' {
			return false
		}
		s.i++
		if field == nil {
			ok = s.value()
		} else {
			ok = field(key)
		}
		if !ok {
			return false
		}
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// unknown skips the value of a key no field has, unless the key could
// match one of fields as encoding/json matches them (case-insensitively,
// with Unicode folds for non-ASCII keys).
func (s *scanner) unknown(key []byte, fields ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	for _, f := range fields {
		if bytes.EqualFold(key, []byte(f)) {
			return false
		}
	}
	return s.value()
}

// str reads a string value into v.
func (s *scanner) str(v *string) bool {
	b, ok := s.plain()
	if ok {
		*v = string(b)
	}
	return ok
}

// plain reads a string without escapes, of valid UTF-8, and returns its
// contents.
func (s *scanner) plain() ([]byte, bool) {
	if s.next() != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for i := start; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			b := s.b[start:i]
			return b, ascii || utf8.Valid(b)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// null reads a null if one is next.
func (s *scanner) null() bool {
	if s.next() == 'n' && bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += len("null")
		return true
	}
	return false
}

// raw reads any value into v as its bytes in the body (rawObject); null
// leaves v nil.
func (s *scanner) raw(v *[]byte) bool {
	s.space()
	start := s.i
	if !s.value() {
		return false
	}
	if b := s.b[start:s.i]; string(b) != "null" {
		*v = b
	}
	return true
}

// value validates and skips any value.
func (s *scanner) value() bool {
	switch c := s.next(); {
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array()
	case c == '"':
		return s.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

func (s *scanner) enter() bool {
	s.depth++
	return s.depth <= maxScanDepth
}

func (s *scanner) array() bool {
	if !s.enter() {
		return false
	}
	s.i++ // '['
	if s.next() == ']' {
		s.i++
		s.depth--
		return true
	}
	for {
		if !s.value() {
			return false
		}
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// skipString skips a string, escapes checked as encoding/json checks them.
func (s *scanner) skipString() bool {
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(s.b) {
				return false
			}
			switch s.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[i+1 : i+5] {
					if !isHex(h) {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number skips a number of JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	i := s.i
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case i < len(s.b) && s.b[i] >= '1' && s.b[i] <= '9':
		i = s.digits(i)
	default:
		return false
	}
	if i < len(s.b) && s.b[i] == '.' {
		if i++; !s.isDigit(i) {
			return false
		}
		i = s.digits(i)
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if !s.isDigit(i) {
			return false
		}
		i = s.digits(i)
	}
	s.i = i
	return true
}

func (s *scanner) isDigit(i int) bool { return i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' }

// digits returns the index after the digits from i.
func (s *scanner) digits(i int) int {
	for s.isDigit(i) {
		i++
	}
	return i
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}
