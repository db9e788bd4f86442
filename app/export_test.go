package app

// PasswordChecks is how many passwords have been checked (CheckPassword).
func PasswordChecks() int64 { return passwordChecks.Load() }
