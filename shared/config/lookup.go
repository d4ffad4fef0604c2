package config

// App returns the app called name: a map lookup in a parsed Config, so a
// promotion in a 10,000-app pipeline does not scan it.
func (c *Config) App(name string) (*App, bool) {
	// A hit is checked against Apps, and a miss (an unknown app, rare) is
	// scanned: a Config assembled or changed by hand stays correct.
	if i, ok := c.Index.byName[name]; ok && i < len(c.Apps) && c.Apps[i].Name == name {
		return &c.Apps[i], true
	}
	for i := range c.Apps {
		if c.Apps[i].Name == name {
			return &c.Apps[i], true
		}
	}
	return nil, false
}

// Env returns the environment called name and its index in the promotion
// order.
func (a *App) Env(name string) (*Environment, int, bool) {
	for i := range a.Environments {
		if a.Environments[i].Name == name {
			return &a.Environments[i], i, true
		}
	}
	return nil, -1, false
}

// NextEnv returns the environment promoted to after the one called name;
// false when name is the last environment or unknown.
func (a *App) NextEnv(name string) (*Environment, bool) {
	_, i, ok := a.Env(name)
	if !ok || i+1 >= len(a.Environments) {
		return nil, false
	}
	return &a.Environments[i+1], true
}

// index builds the name index; Parse calls it once the names are known to
// be unique.
func (c *Config) index() {
	idx := make(map[string]int, len(c.Apps))
	for i := range c.Apps {
		idx[c.Apps[i].Name] = i
	}
	c.Index = AppIndex{byName: idx}
}
