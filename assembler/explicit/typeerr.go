package explicit

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/assemble-build/assemble/internal/lazyregexp"
)

// tomlTypeError matches BurntSushi/toml's messages for a value of the wrong
// type: they name Go types ("destination has type slice"), which the user of
// assemble.toml never wrote.
var tomlTypeError = lazyregexp.New(`^toml: (?:line (\d+) )?\(last key "([^"]+)"\): (?:incompatible types: TOML value has type (\S+); destination has type .*|type mismatch for \S+: expected table but found (\S+))$`)

// typeError rewrites a type mismatch in the user's words ("assemble.toml:7:
// tags must be a list of strings, not a string"); false for other errors.
func typeError(path string, err error, lines *locator) (error, bool) {
	m := tomlTypeError.FindStringSubmatch(err.Error())
	if m == nil {
		return nil, false
	}
	keys := strings.Split(m[2], ".")
	want := expected(reflect.TypeOf(file{}), keys)
	if want == "" {
		return nil, false
	}
	line, _ := strconv.Atoi(m[1])
	if line == 0 {
		line = lines.key(keys)
	}
	found := m[3] + m[4]
	return fmt.Errorf("%s:%d: %s must be %s, not %s", path, line, keys[len(keys)-1], want, tomlKind(found)), true
}

// expected follows keys through the file's types by their toml tags and
// says what the last one holds; "" when a key is not found.
func expected(t reflect.Type, keys []string) string {
	for _, k := range keys {
		t = elem(t)
		if t.Kind() != reflect.Struct {
			return ""
		}
		f, ok := fieldByTag(t, k)
		if !ok {
			return ""
		}
		t = f.Type
	}
	return describe(t)
}

func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice && elemStruct(t) {
		t = t.Elem()
	}
	return t
}

func elemStruct(t reflect.Type) bool {
	e := t.Elem()
	for e.Kind() == reflect.Pointer {
		e = e.Elem()
	}
	return e.Kind() == reflect.Struct
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); strings.Split(f.Tag.Get("toml"), ",")[0] == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// describe names a destination type as TOML would write it.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Map:
		return "a table of " + plural(t.Elem())
	case reflect.Slice:
		if elemStruct(t) {
			return "a list of tables ([[...]])"
		}
		return "a list of " + plural(t.Elem())
	case reflect.Struct:
		return "a table"
	}
	return ""
}

func plural(t reflect.Type) string {
	d := strings.TrimPrefix(strings.TrimPrefix(describe(t), "a "), "an ")
	switch {
	case d == "true or false":
		return "booleans"
	case strings.HasSuffix(d, "s"):
		return d
	}
	return d + "s"
}

// tomlKind renders the library's name of a TOML value's type.
func tomlKind(k string) string {
	switch strings.ToLower(k) {
	case "string":
		return "a string"
	case "integer", "int64", "int":
		return "an integer"
	case "float", "float64":
		return "a number"
	case "boolean", "bool":
		return "true or false"
	case "array":
		return "a list"
	case "table", "inline table", "map", "hash":
		return "a table"
	case "datetime":
		return "a date"
	}
	return k
}
