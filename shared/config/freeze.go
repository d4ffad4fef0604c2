package config

import (
	"time"
)

// Frozen reports whether promotions to e are frozen at t and, if so, when
// the freeze ends. A freeze window opens at each fire of its cron schedule
// in its time zone and lasts its duration of elapsed time, closed at the
// start and open at the end; until is the end of the latest window open at
// t (across all of e's windows), in t's location. A window that fails
// validation never freezes.
func (e *Environment) Frozen(t time.Time) (frozen bool, until time.Time) {
	for i := range e.Freeze {
		if end, ok := e.Freeze[i].openAt(t); ok && end.After(until) {
			frozen, until = true, end
		}
	}
	if frozen {
		until = until.In(t.Location())
	}
	return frozen, until
}

// openAt returns the end of the window open at t, if one is.
func (f *Freeze) openAt(t time.Time) (time.Time, bool) {
	if f.Duration <= 0 {
		return time.Time{}, false
	}
	sched, err := parseCron(f.Cron)
	if err != nil {
		return time.Time{}, false
	}
	loc, err := loadLocation(f.Timezone)
	if err != nil {
		return time.Time{}, false
	}
	t = t.In(loc) // the schedule fires by the wall clock of t's location
	// A window is open at t when a fire s satisfies t-d < s <= t, and
	// Next returns the first fire strictly after its argument.
	lo, hi := t.Add(-f.Duration), t
	if s := sched.Next(lo); s.IsZero() || s.After(t) {
		return time.Time{}, false
	}
	// Find the latest fire at or before t by bisection, so that a frequent
	// schedule with a long duration costs a few dozen steps, not one per
	// fire. Invariant: Next(lo) <= t < Next(hi). Fires are whole minutes
	// apart, so once hi-lo <= 1s, Next(lo) is the only fire in (lo, t].
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if sched.Next(mid).After(t) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return sched.Next(lo).Add(f.Duration), true
}
