package attest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The in-toto Statement v1 and SLSA provenance v1 shapes, as plain structs:
// the attestation project's Go bindings are protobuf messages whose JSON
// form is not promised to be stable byte for byte, and these documents must be.
type statement struct {
	Type          string         `json:"_type"`
	Subject       []subject      `json:"subject"`
	PredicateType string         `json:"predicateType"`
	Predicate     slsaProvenance `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type slsaProvenance struct {
	BuildDefinition buildDefinition `json:"buildDefinition"`
	RunDetails      runDetails      `json:"runDetails"`
}

type buildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   externalParameters   `json:"externalParameters"`
	InternalParameters   map[string]string    `json:"internalParameters,omitempty"`
	ResolvedDependencies []resourceDescriptor `json:"resolvedDependencies,omitempty"`
}

type externalParameters struct {
	Convention string            `json:"convention,omitempty"`
	Platform   string            `json:"platform"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

type resourceDescriptor struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

type runDetails struct {
	Builder  builder  `json:"builder"`
	Metadata metadata `json:"metadata"`
}

type builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version"`
}

type metadata struct {
	StartedOn  string `json:"startedOn"`
	FinishedOn string `json:"finishedOn"`
}

// Provenance writes an in-toto statement about in's image with a SLSA
// provenance v1 predicate: assemble as the builder, the convention and the
// output-changing settings as external parameters, and the repository
// revision, the base and the package indexes as resolved dependencies.
// Its times are the build's time (SOURCE_DATE_EPOCH), not the clock's.
func Provenance(in Input) ([]byte, error) {
	st := statement{
		Type:          "https://in-toto.io/Statement/v1",
		Subject:       []subject{{Name: in.Name, Digest: map[string]string{"sha256": in.Subject.Digest.Hex}}},
		PredicateType: ProvenanceType,
		Predicate: slsaProvenance{
			BuildDefinition: buildDefinition{
				BuildType:            BuildType,
				ExternalParameters:   externalParameters{Convention: in.Invocation.Convention, Platform: in.Platform, Parameters: in.Invocation.Parameters},
				ResolvedDependencies: materials(in),
			},
			RunDetails: runDetails{
				Builder:  builder{ID: BuilderID, Version: map[string]string{"assemble": builderVersion()}},
				Metadata: metadata{StartedOn: in.created(), FinishedOn: in.created()},
			},
		},
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("writing the provenance: %w", err)
	}
	return append(b, '\n'), nil
}

// materials lists the build's inputs by digest: the repository revision,
// the base image, and every package index read.
func materials(in Input) []resourceDescriptor {
	var out []resourceDescriptor
	if r := in.Repo; r.Revision != "" {
		uri := ""
		if r.Source != "" {
			uri = "git+" + strings.TrimPrefix(r.Source, "git+") + "@" + r.Revision
		}
		out = append(out, resourceDescriptor{Name: "repository", URI: uri, Digest: map[string]string{"gitCommit": r.Revision}})
	}
	if b := in.Base; b.Ref != "" {
		d := resourceDescriptor{Name: "base", URI: b.Ref}
		if b.Digest.Hex != "" {
			d.Digest = map[string]string{"sha256": b.Digest.Hex}
		}
		out = append(out, d)
	}
	for _, m := range in.Indexes {
		out = append(out, resourceDescriptor{Name: m.Name, URI: m.URI, Digest: map[string]string{"sha256": m.SHA256}})
	}
	return out
}
