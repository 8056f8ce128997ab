package pieces

import (
	"sort"
	"strings"
	"testing"

	"github.com/assemble-build/assemble/internal/pyjson"
)

// wantGroup is one group of a real repository's .domino/dependencies_map.json.
type wantGroup struct {
	dockerfile, requirements string
	pieces                   []string
	// secrets of each piece (piece -> its SecretsModel fields).
	secrets map[string][]string
}

func dep(dockerfile, requirements string) *pyjson.Value {
	d := pyjson.Object()
	d.Set("dockerfile", orNull(strOrNil(dockerfile)))
	d.Set("requirements_file", orNull(strOrNil(requirements)))
	return d
}

func strOrNil(s string) *pyjson.Value {
	if s == "" {
		return nil
	}
	return pyjson.String(s)
}

// dominoOrder lists the pieces as Domino's glob might have: the groups'
// pieces interleaved round-robin, which keeps each group's order and the
// groups' order of first appearance (the only order the result depends on).
func dominoOrder(groups []wantGroup) []groupInput {
	var in []groupInput
	for i := 0; ; i++ {
		added := false
		for _, g := range groups {
			if i < len(g.pieces) {
				p := g.pieces[i]
				in = append(in, groupInput{name: p, dependency: dep(g.dockerfile, g.requirements), secrets: g.secrets[p]})
				added = true
			}
		}
		if !added {
			return in
		}
	}
}

func union(m map[string][]string) []string {
	set := map[string]bool{}
	for _, ss := range m {
		for _, s := range ss {
			set[s] = true
		}
	}
	out := []string{}
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// The real repositories of reference/domino.md (their committed
// .domino/dependencies_map.json): Domino's rule, applied to their pieces in
// Domino's order, gives back their groups, numbers, pieces and secrets.
func TestGroupsOfRealRepositories(t *testing.T) {
	repos := map[string][]wantGroup{
		// default_domino_pieces: one requirements group.
		"default_domino_pieces": {{requirements: "requirements_0.txt", pieces: []string{
			"DataConversionPiece", "GetDateTimePiece", "PageScrapperPiece", "LogPiece", "CustomPythonPiece", "ToStringPiece",
			"SleepPiece", "SaveImagePiece", "HttpRequestPiece", "GetItemFromArrayPiece", "LoremIpsumGeneratorPiece"}}},
		// openai_domino_pieces 0.8.1: three Dockerfile groups, secrets, GPU.
		"openai_domino_pieces": {
			{dockerfile: "Dockerfile_01", pieces: []string{"InformationExtractionPiece", "TextTaggingPiece", "AudioTranscriptionPiece", "TextGeneratorPiece",
				"PromptCreatorForImageGeneratorPiece", "TextSummarizerPiece", "FileInformationExtractionPiece", "ImageGeneratorPiece"},
				secrets: map[string][]string{"TextGeneratorPiece": {"OPENAI_API_KEY"}, "ImageGeneratorPiece": {"OPENAI_API_KEY"}, "TextTaggingPiece": {"OPENAI_API_KEY"}}},
			{dockerfile: "Dockerfile_summarizer", pieces: []string{"TextSummarizerLocalPiece"}},
			{dockerfile: "Dockerfile_whisper", pieces: []string{"AudioTranscriptionLocalPiece"}},
		},
		// social_media_domino_pieces: a no-dependency group, a Dockerfile
		// group and a requirements group, each with secrets.
		"social_media_domino_pieces": {
			{pieces: []string{"EmailSenderPiece", "InstagramPostImagePiece", "InstagramGetMediaPiece"}, secrets: map[string][]string{
				"EmailSenderPiece":        {"EMAIL_SENDER_ACCOUNT", "EMAIL_SENDER_PASSWORD"},
				"InstagramPostImagePiece": {"INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"},
				"InstagramGetMediaPiece":  {"INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"}}},
			{dockerfile: "Dockerfile_youtube", pieces: []string{"YoutubeDownloadPiece", "YoutubeListVideosPiece"}, secrets: map[string][]string{"YoutubeListVideosPiece": {"YOUTUBE_API_KEY"}}},
			{requirements: "requirements.txt", pieces: []string{"ImgurImageUploaderPiece", "ImgurDeleteImagePiece"}, secrets: map[string][]string{
				"ImgurImageUploaderPiece": {"IMGUR_ACCESS_TOKEN", "IMGUR_CLIENT_ID"}, "ImgurDeleteImagePiece": {"IMGUR_ACCESS_TOKEN"}}},
		},
		// IISAS/spice_domino_pieces: a group with both a Dockerfile and a
		// requirements file (the Dockerfile wins at build time).
		"spice_domino_pieces": {
			{requirements: "requirements_0.txt", pieces: []string{"TrainTestSplitPiece", "MinOfTheDayPiece", "DayOfTheYearPiece", "IsDayPiece", "MeteoPiece",
				"InferenceModelPiece", "FVEPiece", "RenameColumnPiece", "ConvertTimePiece", "SelectDatesPiece", "InputDataSEPSPiece", "RemoveUnusedMeteoPiece",
				"AddSunPiece", "CiselnikyPiece", "AddAdvancedMeteoPiece", "TrainRandomForestRegressorPiece", "Meteo_FVEPiece"}},
			{dockerfile: "Dockerfile.kafka", pieces: []string{"KafkaTopicCreatorPiece", "KafkaConsumerPiece", "KafkaProducerPiece"}, secrets: map[string][]string{
				"KafkaConsumerPiece": {"ssl_ca_pem", "ssl_certificate_pem", "ssl_key_pem"}, "KafkaProducerPiece": {"ssl_ca_pem", "ssl_certificate_pem", "ssl_key_pem"}}},
			{dockerfile: "Dockerfile_1", pieces: []string{"ExecuteShellPiece"}},
			{dockerfile: "Dockerfile.tensorflow-gpu", requirements: "requirements_TimeSeriesClassification-gpu.txt", pieces: []string{"TimeSeriesClassificationInferencePiece", "TimeSeriesClassificationTrainPiece"}},
		},
	}
	for name, want := range repos {
		t.Run(name, func(t *testing.T) {
			in := dominoOrder(want)
			got := formGroups(in)
			if len(got) != len(want) {
				t.Fatalf("%d groups, want %d", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Name != "group"+itoa(i) || g.Dockerfile != w.dockerfile || g.RequirementsFile != w.requirements ||
					strings.Join(g.Pieces, ",") != strings.Join(w.pieces, ",") || strings.Join(g.Secrets, ",") != strings.Join(union(w.secrets), ",") {
					t.Errorf("%s: %+v\nwant %+v", g.Name, g, w)
				}
				wantKind := "none"
				if w.dockerfile != "" {
					wantKind = "dockerfile"
				} else if w.requirements != "" {
					wantKind = "requirements"
				}
				if g.Kind() != wantKind {
					t.Errorf("%s kind %s, want %s", g.Name, g.Kind(), wantKind)
				}
			}

			// In assemble's sorted order: the same groups (same pieces
			// together), numbered by first appearance in sorted order.
			sorted := append([]groupInput(nil), in...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
			sg := formGroups(sorted)
			if len(sg) != len(want) {
				t.Fatalf("sorted: %d groups", len(sg))
			}
			seen := map[string]bool{}
			for _, p := range sorted {
				for i, g := range sg {
					if g.Pieces[0] == p.name && !seen[g.Name] {
						if g.Name != "group"+itoa(len(seen)) || i != len(seen) {
							t.Errorf("sorted: %s opened by %s out of order", g.Name, p.name)
						}
						seen[g.Name] = true
					}
				}
			}
			for _, g := range sg {
				if !sort.StringsAreSorted(g.Pieces) {
					t.Errorf("sorted: %s pieces %v", g.Name, g.Pieces)
				}
				found := false
				for _, w := range want {
					ws := append([]string(nil), w.pieces...)
					sort.Strings(ws)
					found = found || strings.Join(ws, ",") == strings.Join(g.Pieces, ",")
				}
				if !found {
					t.Errorf("sorted: %s has %v, which is no group of the repository", g.Name, g.Pieces)
				}
			}
		})
	}
}

// openai_domino_pieces in sorted order: AudioTranscriptionLocalPiece comes
// first, so the whisper group is group0 (Domino's file-system order made it
// group2); the README says so.
func TestSortedOrderRenumbers(t *testing.T) {
	in := []groupInput{
		{name: "AudioTranscriptionLocalPiece", dependency: dep("Dockerfile_whisper", "")},
		{name: "AudioTranscriptionPiece", dependency: dep("Dockerfile_01", "")},
		{name: "TextSummarizerLocalPiece", dependency: dep("Dockerfile_summarizer", "")},
		{name: "TextSummarizerPiece", dependency: dep("Dockerfile_01", "")},
	}
	g := formGroups(in)
	if len(g) != 3 || g[0].Dockerfile != "Dockerfile_whisper" || g[1].Dockerfile != "Dockerfile_01" || strings.Join(g[1].Pieces, ",") != "AudioTranscriptionPiece,TextSummarizerPiece" {
		t.Errorf("%+v", g)
	}
}

// Domino compares the piece's dependency keys only: an extra key
// (docker_image) splits a group, and a piece matching two groups joins
// both; a key the group lacks counts as null (Domino would raise KeyError).
func TestGroupsExtraDependencyKeys(t *testing.T) {
	withImage := func(img string) *pyjson.Value {
		d := dep("", "r.txt")
		d.Set("docker_image", pyjson.String(img))
		return d
	}
	in := []groupInput{
		{name: "APiece", dependency: withImage("x")},
		{name: "BPiece", dependency: dep("", "r.txt")},
		{name: "CPiece", dependency: withImage("y")},
		{name: "DPiece", dependency: dep("", "r.txt")},
	}
	g := formGroups(in)
	if len(g) != 2 || strings.Join(g[0].Pieces, ",") != "APiece,BPiece,DPiece" || strings.Join(g[1].Pieces, ",") != "CPiece,DPiece" {
		t.Errorf("%+v", g)
	}
	m := string(pyjson.Marshal(piecesImagesMap([]*Group{{Pieces: g[0].Pieces, Image: "i:0"}, {Pieces: g[1].Pieces, Image: "i:1"}})))
	if m != `{"APiece": "i:0", "BPiece": "i:0", "DPiece": "i:1", "CPiece": "i:1"}` {
		t.Errorf("PIECES_IMAGES_MAP: %s", m)
	}
	// A group whose first piece has no docker_image: the key counts as null.
	g = formGroups([]groupInput{{name: "BPiece", dependency: dep("", "r.txt")}, {name: "APiece", dependency: withImage("x")}})
	if len(g) != 2 {
		t.Errorf("%+v", g)
	}
}
