package testhook

import "testing"

func TestPauseReturnsUnlessNamed(t *testing.T) {
	t.Setenv(Env, "elsewhere")
	Pause("layout-index") // returns: the hook names another point
	t.Setenv(Env, "")
	Pause("layout-index")
}
