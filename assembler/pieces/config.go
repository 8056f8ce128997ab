package pieces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/assemble-build/assemble/internal/bounded"
	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// ConfigFile is the repository's configuration, at its root.
const ConfigFile = "config.toml"

// config is config.toml's [repository] table.
type config struct {
	RegistryName   string
	RepositoryName string
	Label          string
	Version        string
	// versionMissing: [repository] has no VERSION key, which Domino only
	// warns about.
	versionMissing bool
}

// Domino's validate_repo_name rejects whitespace and these characters.
const badRepoNameChars = "!@#$%^&*()+={}[]:;'\"<>?/\\|~`"

// An image repository path component and a tag, as the distribution spec
// has them: what docker build -t would have accepted.
var (
	repoComponentRe = lazyregexp.New(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$`)
	tagRe           = lazyregexp.New(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// readConfig reads config.toml, reporting every problem. A missing VERSION
// is a problem only when versionNeed says what needs it, as "X needs it" ("" when nothing
// does: Domino's validate_config then only prints "Missing required
// fields", and the caller warns the same way).
func readConfig(root string, ps *problems, versionNeed string) (*config, bool) {
	data, err := bounded.ReadFile(filepath.Join(root, ConfigFile), bounded.Config)
	if errors.Is(err, os.ErrNotExist) {
		ps.add(ConfigFile, 0, "missing config.toml file: a pieces repository has config.toml with a [repository] table (REGISTRY_NAME, REPOSITORY_NAME, VERSION)")
		return nil, false
	}
	if err != nil {
		ps.add(ConfigFile, 0, "reading: %v", err)
		return nil, false
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			ps.add(ConfigFile, pe.Position.Line, "%s (fix the TOML syntax)", pe.Message)
		} else {
			ps.add(ConfigFile, 0, "%v (fix the TOML syntax)", err)
		}
		return nil, false
	}
	repo, ok := doc["repository"].(map[string]any)
	if !ok {
		ps.add(ConfigFile, 0, "no [repository] table: add one with REGISTRY_NAME, REPOSITORY_NAME and VERSION")
		return nil, false
	}
	c := &config{}
	good := true
	get := func(key string, required bool) string {
		raw, present := repo[key]
		line := keyLine(data, key)
		if !present {
			if required {
				ps.add(ConfigFile, 0, "[repository] lacks %s (Domino requires REGISTRY_NAME, REPOSITORY_NAME and VERSION)", key)
				good = false
			}
			return ""
		}
		switch v := raw.(type) {
		case string:
			if required && strings.TrimSpace(v) == "" {
				ps.add(ConfigFile, line, "%s is empty", key)
				good = false
			}
			return v
		case int64:
			return strconv.FormatInt(v, 10)
		default:
			ps.add(ConfigFile, line, "%s must be a string, e.g. %s = \"%v\"", key, key, v)
			good = false
			return ""
		}
	}
	c.RegistryName = get("REGISTRY_NAME", true)
	c.RepositoryName = get("REPOSITORY_NAME", true)
	_, hasVersion := repo["VERSION"]
	c.Version = get("VERSION", hasVersion)
	if !hasVersion {
		c.versionMissing = true
		if versionNeed != "" {
			ps.add(ConfigFile, 0, "[repository] lacks VERSION, and %s: add VERSION = \"0.1.0\" to [repository] (Domino only prints \"Missing required fields\", but it cannot tag images without it)", versionNeed)
			good = false
		}
	}
	c.Label = get("REPOSITORY_LABEL", false)
	if n := c.RepositoryName; n != "" {
		line := keyLine(data, "REPOSITORY_NAME")
		switch {
		case strings.ContainsFunc(n, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }):
			ps.add(ConfigFile, line, "REPOSITORY_NAME %q: Repository name should not contain blank spaces", n)
			good = false
		case strings.ContainsAny(n, badRepoNameChars):
			ps.add(ConfigFile, line, "REPOSITORY_NAME %q: Repository name should not contain special characters (%s)", n, badRepoNameChars)
			good = false
		case !repoComponentRe.MatchString(n):
			ps.add(ConfigFile, line, "REPOSITORY_NAME %q is not a valid image name: use lower-case letters, digits and . _ - (Domino names the images ghcr.io/<REGISTRY_NAME>/<REPOSITORY_NAME>)", n)
			good = false
		}
	}
	if r := c.RegistryName; r != "" && !registryNameRe.MatchString(strings.ToLower(r)) {
		ps.add(ConfigFile, keyLine(data, "REGISTRY_NAME"), "REGISTRY_NAME %q is not a valid image namespace (a GitHub owner, e.g. \"my-org\")", r)
		good = false
	}
	return c, good
}

var registryNameRe = lazyregexp.New(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)

// keyLine finds the line a key is set on, for messages (0 when not found).
func keyLine(data []byte, key string) int {
	for i, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(l, key); ok {
			if strings.HasPrefix(strings.TrimSpace(rest), "=") {
				return i + 1
			}
		}
	}
	return 0
}

// hasRepositoryTable reports whether config.toml declares [repository],
// even when the rest of the file does not parse (so the error is reported
// by this convention rather than "no convention matched").
func hasRepositoryTable(path string) bool {
	data, err := bounded.ReadFile(path, bounded.Config)
	if err != nil {
		// Too large to look into: say so (reading it again refuses it)
		// rather than "no convention matched".
		return bounded.IsTooLarge(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err == nil {
		_, ok := doc["repository"].(map[string]any)
		return ok
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "[repository]" {
			return true
		}
	}
	return false
}

// imageRepository is the image name without tag: Domino's
// ghcr.io/<REGISTRY_NAME lower-cased>/<REPOSITORY_NAME>, or registry (which
// replaces "ghcr.io/<owner>") + "/" + REPOSITORY_NAME.
func (c *config) imageRepository(registry string) string {
	prefix := strings.ToLower("ghcr.io/" + c.RegistryName)
	if registry != "" {
		prefix = strings.TrimSuffix(registry, "/")
	}
	return prefix + "/" + c.RepositoryName
}

func checkTag(version, flag string) error {
	if !tagRe.MatchString(version + "-group0") {
		return fmt.Errorf("version %q (%s) does not make a valid image tag: use letters, digits, '_', '.' and '-' (at most 120 characters)", version, flag)
	}
	return nil
}
