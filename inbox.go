package switchboard

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// Channel is the kind of entry point a customer writes to.
type Channel string

// Channels.
const (
	ChannelWidget    Channel = "widget"
	ChannelWhatsApp  Channel = "whatsapp"
	ChannelSMS       Channel = "sms"
	ChannelMessenger Channel = "messenger"
	ChannelInstagram Channel = "instagram"
	ChannelAPI       Channel = "api"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case ChannelWidget, ChannelWhatsApp, ChannelSMS, ChannelMessenger, ChannelInstagram, ChannelAPI:
		return true
	}
	return false
}

// Inbox is an entry point customers write to (U2).
type Inbox struct {
	ID        int64         `json:"id"`
	Name      string        `json:"name"`
	Channel   Channel       `json:"channel"`
	Settings  InboxSettings `json:"settings"`
	CreatedAt time.Time     `json:"created_at"`
}

// InboxSettings are the per-inbox knobs of routing and the widget. Durations
// are in seconds so that they read plainly in JSON.
type InboxSettings struct {
	Greeting           string        `json:"greeting"`
	OutOfHoursMessage  string        `json:"out_of_hours_message"`
	ChatLimit          int           `json:"chat_limit"` // 0: the agent's own limit applies
	OfferTimeoutSec    int           `json:"offer_timeout_sec"`
	TransferTimeoutSec int           `json:"transfer_timeout_sec"`
	AssignedIdleSec    int           `json:"assigned_idle_sec"`
	WaitingIdleSec     int           `json:"waiting_idle_sec"`
	MaxMissedOffers    int           `json:"max_missed_offers"`
	BusinessHours      BusinessHours `json:"business_hours"`
	AllowedOrigins     []string      `json:"allowed_origins"` // for the widget; empty: any (AllowsOrigin)
}

// AllowsOrigin reports whether the widget of an inbox may be used from a web
// page of origin (what its browser sends in Origin): any page when
// AllowedOrigins is empty, else only those listed. Origins match by scheme,
// host and port, case-insensitively; a default port and a trailing slash
// make no difference. The opaque origin "null" never matches a list.
func (s InboxSettings) AllowsOrigin(origin string) bool {
	if len(s.AllowedOrigins) == 0 {
		return true
	}
	o, ok := NormalizeOrigin(origin)
	if !ok {
		return false
	}
	for _, allowed := range s.AllowedOrigins {
		if a, ok := NormalizeOrigin(allowed); ok && a == o {
			return true
		}
	}
	return false
}

// NormalizeOrigin returns a web origin as browsers write it:
// scheme://host[:port], in lower case, without the scheme's default port or
// a trailing slash. ok is false for anything that is not an http or https
// origin (a path, a query, user info, "null").
func NormalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/"))
	if err != nil || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme != "http" && scheme != "https") || host == "" {
		return "", false
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if port != "" || strings.Contains(host, ":") {
		// JoinHostPort brackets IPv6 addresses; an empty port is trimmed below.
		host = strings.TrimSuffix(net.JoinHostPort(host, port), ":")
	}
	return scheme + "://" + host, true
}

// BusinessHours is a weekly schedule in a time zone, with holidays (R7).
// An empty schedule means always open.
type BusinessHours struct {
	TimeZone string       `json:"time_zone"`
	Weekly   []OpenPeriod `json:"weekly"`
	Holidays []string     `json:"holidays"` // dates, YYYY-MM-DD, in TimeZone
}

// OpenPeriod is one opening interval on a weekday (0 = Sunday), in minutes
// since midnight; End is exclusive.
type OpenPeriod struct {
	Weekday int `json:"weekday"`
	Start   int `json:"start"`
	End     int `json:"end"`
}

// DefaultInboxSettings returns the defaults of PRODUCT.md and the routing issue.
func DefaultInboxSettings() InboxSettings {
	return InboxSettings{
		Greeting:           "Hi! How can we help?",
		OutOfHoursMessage:  "We are away right now. Leave us a message and we will get back to you.",
		OfferTimeoutSec:    30,
		TransferTimeoutSec: 60,
		AssignedIdleSec:    3600,
		WaitingIdleSec:     6 * 3600,
		MaxMissedOffers:    3,
	}
}

// Validate checks and normalises an inbox.
func (in *Inbox) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return Errorf(EINVALID, "Inbox name must be 1 to 100 characters.")
	}
	if in.Channel == "" {
		in.Channel = ChannelWidget
	}
	if !in.Channel.Valid() {
		return Errorf(EINVALID, "Channel %q is not known.", in.Channel)
	}
	return in.Settings.Validate()
}

// Validate checks the settings and fills zero durations with defaults.
func (s *InboxSettings) Validate() error {
	d := DefaultInboxSettings()
	if s.OfferTimeoutSec == 0 {
		s.OfferTimeoutSec = d.OfferTimeoutSec
	}
	if s.TransferTimeoutSec == 0 {
		s.TransferTimeoutSec = d.TransferTimeoutSec
	}
	if s.AssignedIdleSec == 0 {
		s.AssignedIdleSec = d.AssignedIdleSec
	}
	if s.WaitingIdleSec == 0 {
		s.WaitingIdleSec = d.WaitingIdleSec
	}
	if s.MaxMissedOffers == 0 {
		s.MaxMissedOffers = d.MaxMissedOffers
	}
	if s.OfferTimeoutSec < 5 || s.OfferTimeoutSec > 3600 || s.TransferTimeoutSec < 5 || s.TransferTimeoutSec > 3600 {
		return Errorf(EINVALID, "Offer and transfer timeouts must be between 5 and 3600 seconds.")
	}
	if s.AssignedIdleSec < 60 || s.WaitingIdleSec < 60 {
		return Errorf(EINVALID, "Inactivity timeouts must be at least 60 seconds.")
	}
	if s.ChatLimit < 0 || s.ChatLimit > 100 {
		return Errorf(EINVALID, "Chat limit must be between 0 and 100.")
	}
	if len(s.Greeting) > 1000 || len(s.OutOfHoursMessage) > 1000 {
		return Errorf(EINVALID, "Greeting and out-of-hours message must be at most 1000 characters.")
	}
	if err := s.normalizeOrigins(); err != nil {
		return err
	}
	return s.BusinessHours.Validate()
}

// normalizeOrigins checks the allowed origins and stores them the way
// browsers send them, so that what an admin reads back is what is matched.
func (s *InboxSettings) normalizeOrigins() error {
	if len(s.AllowedOrigins) > 100 {
		return Errorf(EINVALID, "At most 100 allowed origins.")
	}
	for i, o := range s.AllowedOrigins {
		n, ok := NormalizeOrigin(o)
		if !ok || len(o) > 300 {
			return Errorf(EINVALID, "Allowed origin %.300q is not an origin such as https://www.example.com (scheme and host, no path).", o)
		}
		s.AllowedOrigins[i] = n
	}
	return nil
}

// Validate checks a business-hours schedule.
func (b BusinessHours) Validate() error {
	if b.TimeZone != "" {
		if _, err := time.LoadLocation(b.TimeZone); err != nil {
			return Errorf(EINVALID, "Time zone %q is not known.", b.TimeZone)
		}
	}
	for _, p := range b.Weekly {
		if p.Weekday < 0 || p.Weekday > 6 || p.Start < 0 || p.End > 24*60 || p.Start >= p.End {
			return Errorf(EINVALID, "Opening period %+v is not valid.", p)
		}
	}
	for _, h := range b.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			return Errorf(EINVALID, "Holiday %q is not a YYYY-MM-DD date.", h)
		}
	}
	return nil
}

// Open reports whether the schedule is open at t. No weekly periods means always open.
func (b BusinessHours) Open(t time.Time) bool {
	loc := time.UTC
	if b.TimeZone != "" {
		if l, err := time.LoadLocation(b.TimeZone); err == nil {
			loc = l
		}
	}
	lt := t.In(loc)
	day := lt.Format("2006-01-02")
	for _, h := range b.Holidays {
		if h == day {
			return false
		}
	}
	if len(b.Weekly) == 0 {
		return true
	}
	m := lt.Hour()*60 + lt.Minute()
	for _, p := range b.Weekly {
		if int(lt.Weekday()) == p.Weekday && m >= p.Start && m < p.End {
			return true
		}
	}
	return false
}

// Department groups agents for routing and transfer (U3).
type Department struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	MemberIDs []int64   `json:"member_ids"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks a department.
func (d *Department) Validate() error {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" || len(d.Name) > 100 {
		return Errorf(EINVALID, "Department name must be 1 to 100 characters.")
	}
	return nil
}
