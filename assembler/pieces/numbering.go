package pieces

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/logctx"
	"github.com/assemble-build/assemble/internal/pyjson"
)

// depPair is a group's identity: its (dockerfile, requirements_file), ""
// standing for null.
type depPair struct{ dockerfile, requirements string }

// numbering is the group numbers a repository's committed
// .domino/dependencies_map.json gave: the published source_image tags end
// in them, so a rebuild keeps them rather than renumbering in sorted order.
type numbering struct {
	byPair map[depPair]int
	// used are every number the map lists, kept or not: a new group never
	// takes a tag the map gave another dependency.
	used map[int]bool
}

// readNumbering reads the numbers of root's .domino/dependencies_map.json;
// nil when there is none. A map that cannot be read is logged and ignored
// (the groups are then numbered in sorted order): it is a generated file
// that the build rewrites.
func readNumbering(ctx context.Context, root string) *numbering {
	file := filepath.Join(root, filepath.FromSlash(DependenciesMapFile))
	data, err := bounded.ReadFile(file, bounded.GeneratedMap)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	log := logctx.From(ctx)
	var v *pyjson.Value
	if err == nil {
		v, err = pyjson.Parse(data)
	}
	if err == nil && v.Kind() != pyjson.KindObject {
		err = errors.New("not a JSON object")
	}
	if err != nil {
		log.Warn("ignoring the existing dependencies map: groups are numbered in sorted piece order", "file", DependenciesMapFile, "err", err)
		return nil
	}
	n := &numbering{byPair: map[depPair]int{}, used: map[int]bool{}}
	for _, name := range v.Keys() {
		num, ok := groupNumber(name)
		if !ok {
			log.Warn("ignoring a dependencies map entry not named group<N>", "file", DependenciesMapFile, "group", name)
			continue
		}
		n.used[num] = true
		dep := v.Get(name).Get("dependency")
		if dep == nil || dep.Kind() != pyjson.KindObject {
			continue
		}
		p := depPair{textOf(dep.Get("dockerfile")), textOf(dep.Get("requirements_file"))}
		if _, seen := n.byPair[p]; !seen {
			n.byPair[p] = num
		}
	}
	return n
}

// groupNumber parses "group<N>".
func groupNumber(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, "group")
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil && n >= 0
}

func textOf(v *pyjson.Value) string {
	if v == nil || v.Kind() != pyjson.KindString {
		return ""
	}
	return v.Text()
}

// apply renames groups formed in sorted order: a group whose pair the map
// lists keeps its number; the others take, in order, the lowest numbers the
// map does not list. The groups come back ordered by number, as Domino
// writes them. A nil numbering leaves them as they are.
func (n *numbering) apply(groups []*Group) []*Group {
	if n == nil {
		return groups
	}
	nums := make(map[*Group]int, len(groups))
	taken := map[int]bool{}
	for _, g := range groups {
		if num, ok := n.byPair[depPair{g.Dockerfile, g.RequirementsFile}]; ok && !taken[num] {
			nums[g], taken[num] = num, true
		}
	}
	next := 0
	for _, g := range groups {
		if _, ok := nums[g]; ok {
			continue
		}
		for n.used[next] || taken[next] {
			next++
		}
		nums[g], taken[next] = next, true
	}
	out := append([]*Group(nil), groups...)
	sort.SliceStable(out, func(i, j int) bool { return nums[out[i]] < nums[out[j]] })
	for _, g := range out {
		g.Name = "group" + strconv.Itoa(nums[g])
	}
	return out
}
