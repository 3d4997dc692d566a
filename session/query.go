package session

import (
	"net/http"
	"net/url"
	"strings"
)

// QueryValue returns the first value of key in r's query string, and
// whether key is there, exactly as r.URL.Query().Get and Has would say. A
// handshake asks for two or three keys of a URL that carries a token of a
// few hundred bytes; url.ParseQuery builds a map of every key and copies
// every value, the largest single cost of a connect after the system
// calls, so this scans instead and allocates only for a value that needs
// unescaping.
func QueryValue(r *http.Request, key string) (string, bool) {
	return queryValue(r.URL.RawQuery, key)
}

// queryValue scans raw, a URL's query, as url.ParseQuery reads it: pairs
// split on '&'; a pair holding ';' or a bad escape is skipped; a pair
// without '=' has an empty value; keys and values are unescaped ('+' is a
// space).
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(k, "%+") {
			if uk, err := url.QueryUnescape(k); err != nil || uk != key {
				continue
			}
		} else if k != key {
			continue
		}
		if !strings.ContainsAny(v, "%+") {
			return v, true
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			continue // url.ParseQuery drops a pair whose value does not unescape
		}
		return uv, true
	}
	return "", false
}
