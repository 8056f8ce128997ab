package pieces

import (
	"testing"

	"github.com/assemble-build/assemble/internal/pyjson"
)

// Deep-merge is dict_deep_update: objects merge, other values replace, new
// keys go last, existing keys keep their place.
func TestDeepUpdate(t *testing.T) {
	a, _ := pyjson.Parse([]byte(`{"name": "D", "dependency": {"dockerfile": null, "requirements_file": null}, "tags": ["x"], "style": {"a": 1, "b": {"c": 1}}}`))
	b, _ := pyjson.Parse([]byte(`{"description": "d", "style": {"b": {"d": 2}, "e": 3}, "tags": [], "dependency": {"requirements_file": "r.txt"}, "name": "N"}`))
	deepUpdate(a, b)
	want := `{"name": "N", "dependency": {"dockerfile": null, "requirements_file": "r.txt"}, "tags": [], "style": {"a": 1, "b": {"c": 1, "d": 2}, "e": 3}, "description": "d"}`
	if got := string(pyjson.Marshal(a)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
