// Package app is the example service's application logic, free of any
// HTTP framework: configuration from the environment, a tiny user table,
// JWT access and refresh tokens (HS256, with sub and jti), the auth
// service on a sessions.Store (login, refresh token rotation with reuse
// detection, logout, logout everywhere), appointments and payments whose
// reminders are scheduled on a reminders.Scheduler with IDs derived from
// the entity, the reminder handlers, and a Notifier for e-mail and SMS.
//
// Errors wrap this package's sentinels (ErrInvalid, ErrUnauthorized,
// ErrNotFound, ErrConfig) or the library's; package api maps them to HTTP
// status codes in one place.
package app
