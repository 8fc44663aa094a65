package twiliosim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// authorized checks HTTP Basic auth and that the path's account is ours.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	good := ok &&
		subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.AccountSID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.AuthToken)) == 1
	if !good {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authentication Error - invalid username")
		return false
	}
	if r.PathValue("account") != s.cfg.AccountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return false
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid form body")
		return
	}
	to, from, svc, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("MessagingServiceSid"), r.PostForm.Get("Body")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		writeError(w, http.StatusBadRequest, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", to))
		return
	case from == "" && svc == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case from != "" && !e164.MatchString(from):
		writeError(w, http.StatusBadRequest, 21212, fmt.Sprintf("Invalid From Number (caller ID): %s", from))
		return
	case svc != "" && !strings.HasPrefix(svc, "MG"):
		writeError(w, http.StatusBadRequest, 21701, "The Messaging Service Sid "+svc+" is invalid.")
		return
	case body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > 1600:
		writeError(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	s.mu.Lock()
	out := s.optedOut[to]
	s.mu.Unlock()
	if out {
		writeError(w, http.StatusBadRequest, 21610, "Attempt to send to unsubscribed recipient")
		return
	}
	if from == "" {
		from = "+15005550006" // a sender "picked from the service's pool"
	}
	m := Message{SID: newSID("SM"), AccountSID: s.cfg.AccountSID, To: to, From: from,
		MessagingServiceSID: svc, Body: body, Status: "delivered", Created: time.Now().UTC()}
	s.mu.Lock()
	if s.undeliverable[to] {
		m.Status, m.ErrorCode = "undelivered", 30003
	}
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	if s.cfg.Out != nil {
		fmt.Fprintf(s.cfg.Out, "[sms] %s → %s (%s): %s\n", from, to, m.SID, body)
	}
	// Twilio answers a create before delivery: the stored message moves on
	// to delivered (or undelivered), which a fetch then shows.
	writeJSON(w, http.StatusCreated, s.resource(m, "queued"))
}

func (s *Server) fetch(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if ok {
		for _, m := range s.Messages() {
			if m.SID == sid {
				writeJSON(w, http.StatusOK, s.resource(m, m.Status))
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
}

// resource renders a message as Twilio's Message resource.
func (s *Server) resource(m Message, status string) map[string]any {
	date := m.Created.Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + ".json"
	res := map[string]any{
		"sid": m.SID, "account_sid": m.AccountSID, "to": m.To, "from": m.From, "body": m.Body,
		"status": status, "direction": "outbound-api", "api_version": "2010-04-01",
		"num_segments": fmt.Sprint(segments(m.Body)), "num_media": "0",
		"date_created": date, "date_updated": date, "date_sent": nil,
		"price": nil, "price_unit": "USD", "error_code": nil, "error_message": nil,
		"messaging_service_sid": nil, "uri": uri,
		"subresource_uris": map[string]any{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
	}
	if m.MessagingServiceSID != "" {
		res["messaging_service_sid"] = m.MessagingServiceSID
	}
	if status != "queued" {
		res["date_sent"] = date
	}
	if m.ErrorCode != 0 && status == m.Status {
		res["error_code"], res["error_message"] = m.ErrorCode, "Unreachable destination handset"
	}
	return res
}

func segments(body string) int {
	n := utf8.RuneCountInString(body)
	if n <= 160 {
		return 1
	}
	return (n + 152) / 153
}

// writeError answers in Twilio's error shape.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	body := map[string]any{"status": status, "message": msg, "code": code, "more_info": nil}
	if code != 0 {
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
