package config

// App returns the app called name.
func (c *Config) App(name string) (*App, bool) {
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
