package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sytefy/kit/examples/internal/app"
)

// MaxBodyBytes is the largest request body read, in bytes; a larger one is
// refused with 413 before it is parsed.
const MaxBodyBytes = 64 << 10

// decode reads one JSON object from body into v. Unknown fields are
// refused, so that a misspelt field ("titel") is an error rather than a
// silently missing value. Errors wrap app.ErrInvalid (400) or errTooLarge
// (413) and say what is wrong.
func decode(body io.Reader, v any) error {
	if body == nil {
		return fmt.Errorf("%w: a JSON body is required", app.ErrInvalid)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxBodyBytes+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr) || len(data) > MaxBodyBytes:
		return fmt.Errorf("%w: limit %d bytes", errTooLarge, MaxBodyBytes)
	case err != nil:
		return fmt.Errorf("%w: reading body: %v", app.ErrInvalid, err)
	case len(bytes.TrimSpace(data)) == 0:
		return fmt.Errorf("%w: a JSON body is required", app.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, app.ErrInvalid) { // from a field's UnmarshalJSON
			return err
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" { // the body itself: an array, a string, ...
				return fmt.Errorf("%w: body must be a JSON object, not a JSON %s", app.ErrInvalid, typeErr.Value)
			}
			return fmt.Errorf("%w: %s must be a JSON %s", app.ErrInvalid, typeErr.Field, jsonType(typeErr.Type.Kind().String()))
		}
		return fmt.Errorf("%w: body is not a valid JSON object: %v", app.ErrInvalid, err)
	}
	// Only white space may follow. dec.More() is not enough: it reports
	// false before a stray '}' or ']'.
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body has data after the JSON object", app.ErrInvalid)
	}
	return nil
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "struct", "map":
		return "object"
	}
	return kind
}

// required reports an empty field as app.ErrInvalid naming it.
func required(field, value string) error {
	if value == "" {
		return fmt.Errorf("%w: %s is required", app.ErrInvalid, field)
	}
	return nil
}

// parseTime parses an RFC 3339 time ("2030-01-02T15:04:05+03:00"; a
// fraction of a second is allowed), naming field in the error.
func parseTime(field, value string) (time.Time, error) {
	if err := required(field, value); err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time like \"2030-01-02T15:04:05Z\"", app.ErrInvalid, field, value)
	}
	return t, nil
}

// amount is a decimal sent as a JSON string ("49.90"), as the API
// documents. A JSON number is refused: clients hold one as a float, and
// money is never a float (49.90 arrives as 49.9).
type amount string

// UnmarshalJSON accepts a JSON string only.
func (a *amount) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf(`%w: amount must be a string such as "49.90"`, app.ErrInvalid)
	}
	*a = amount(s)
	return nil
}
