package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"
)

// UserAgent is the User-Agent of every request, so tests can find it in
// the session's metadata.
const UserAgent = "kit-e2e/1"

// Reply is a response, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r Reply) JSON(t require.TestingT, v any) {
	require.NoError(t, json.Unmarshal(r.Body, v), "body %q", r.Body)
}

// ErrorCode is the "error" member of an error body ("" when absent).
func (r Reply) ErrorCode() string { return r.errorBody().Error }

// ErrorDescription is the "error_description" member of an error body.
func (r Reply) ErrorDescription() string { return r.errorBody().Description }

func (r Reply) errorBody() (e struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}) {
	_ = json.Unmarshal(r.Body, &e)
	return e
}

// Do sends a request. body is sent as JSON unless it is a string or
// []byte, which are sent as they are; bearer, when not empty, is sent as
// "Authorization: Bearer <bearer>".
func (s *Server) Do(method, path, bearer string, body any) Reply {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(s.t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	require.NoError(s.t, err)
	req.Header.Set("User-Agent", UserAgent)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// Tokens is a token response (RFC 6749 §5.1).
type Tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// Login logs in and requires success.
func (s *Server) Login(username, password string) Tokens {
	s.t.Helper()
	r := s.Do("POST", "/auth/login", "", map[string]string{"username": username, "password": password})
	require.Equal(s.t, http.StatusOK, r.Status, "login: %s", r.Body)
	var tok Tokens
	r.JSON(s.t, &tok)
	return tok
}

// Refresh presents a refresh token.
func (s *Server) Refresh(refreshToken string) Reply {
	s.t.Helper()
	return s.Do("POST", "/auth/refresh", "", map[string]string{"refresh_token": refreshToken})
}

// Appointment is the JSON of an appointment.
type Appointment struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	At       time.Time `json:"at"`
	RemindAt time.Time `json:"remind_at"`
}

// stamp formats t as the API takes it: RFC 3339 with milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
