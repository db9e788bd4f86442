package switchboard_test

import (
	"testing"

	sb "github.com/switchboard/switchboard"
)

func TestAllowsOrigin(t *testing.T) {
	s := sb.InboxSettings{AllowedOrigins: []string{"https://Shop.Example/", "http://localhost:3000", "https://[2001:DB8::1]:443"}}
	for origin, want := range map[string]bool{
		"https://shop.example":                      true,
		"HTTPS://SHOP.EXAMPLE":                      true,
		"https://shop.example:443":                  true, // the default port
		"https://shop.example/":                     true,
		"http://localhost:3000":                     true,
		"https://[2001:db8::1]":                     true,
		"http://shop.example":                       false, // another scheme
		"https://shop.example:8443":                 false, // another port
		"https://www.shop.example":                  false,
		"https://shop.example.evil.example":         false,
		"https://evil.example/https://shop.example": false,
		"http://localhost":                          false,
		"null":                                      false,
		"":                                          false,
	} {
		if got := s.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if !(sb.InboxSettings{}).AllowsOrigin("https://anything.example") || !(sb.InboxSettings{}).AllowsOrigin("null") {
		t.Error("an empty list must allow any origin")
	}
}

func TestValidateNormalizesOrigins(t *testing.T) {
	s := sb.DefaultInboxSettings()
	s.AllowedOrigins = []string{" HTTPS://Shop.Example:443/ ", "http://[::1]:8080"}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.AllowedOrigins[0] != "https://shop.example" || s.AllowedOrigins[1] != "http://[::1]:8080" {
		t.Errorf("normalised to %q", s.AllowedOrigins)
	}
	for _, bad := range []string{"shop.example", "https://shop.example/path", "https://shop.example?q", "https://u:p@shop.example", "ftp://shop.example", "*", "null", "https://"} {
		s.AllowedOrigins = []string{bad}
		if sb.ErrorCode(s.Validate()) != sb.EINVALID {
			t.Errorf("allowed origin %q was accepted", bad)
		}
	}
}
