// Package deploy holds the deployment examples: Kubernetes manifests (kubernetes/) and a
// docker compose service for Mastodon's own docker-compose.yml. Its test decodes every one of
// them strictly, so a misspelt or misplaced field fails `go test ./...`.
package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// image is what `make image` tags (scripts/image.sh, scripts/image_test.go).
const image = "ghcr.io/s3sync/s3sync:latest"

// imageUser is the image's numeric USER (Containerfile).
const imageUser = 65532

// kinds are the Kubernetes objects a manifest here may hold, by apiVersion and kind; another
// kind needs its type here before its manifest passes.
var kinds = map[string]func() any{
	"v1/PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
	"v1/Secret":                func() any { return &corev1.Secret{} },
	"v1/ConfigMap":             func() any { return &corev1.ConfigMap{} },
	"v1/Service":               func() any { return &corev1.Service{} },
	"v1/ServiceAccount":        func() any { return &corev1.ServiceAccount{} },
	"batch/v1/Job":             func() any { return &batchv1.Job{} },
	"batch/v1/CronJob":         func() any { return &batchv1.CronJob{} },
	"apps/v1/StatefulSet":      func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":       func() any { return &appsv1.Deployment{} },
}

// document is one YAML document of a manifest file.
type document struct {
	name string // file#index, for messages
	text []byte
}

// documents splits a multi-document YAML file on its --- lines, leaving out documents that
// hold only comments.
func documents(t *testing.T, path string) []document {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []document
	for i, text := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		empty := true
		for _, line := range strings.Split(text, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
			}
		}
		if !empty {
			docs = append(docs, document{fmt.Sprintf("%s#%d", path, i), []byte(text)})
		}
	}
	return docs
}

// manifests returns the YAML files under deploy/, Kubernetes ones and compose ones apart; any
// other YAML file fails the test, so nothing here goes unchecked.
func manifests(t *testing.T) (kube, compose []string) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch ext := filepath.Ext(path); {
		case ext != ".yaml" && ext != ".yml":
		case strings.HasPrefix(path, "kubernetes/"):
			kube = append(kube, path)
		case strings.HasPrefix(filepath.Base(path), "docker-compose"):
			compose = append(compose, path)
		default:
			t.Errorf("%s: neither under kubernetes/ nor a docker-compose file; manifests_test.go checks neither", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(kube) == 0 || len(compose) == 0 {
		t.Fatalf("no manifests found: kubernetes %v, compose %v", kube, compose)
	}
	return kube, compose
}

// decodeKube decodes one document strictly into the API type of its kind.
func decodeKube(doc document) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc.text, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("apiVersion %q kind %q is not one manifests_test.go knows", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc.text, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// Every Kubernetes manifest decodes strictly into its API type, and its pods run the image
// make image builds the way that image can run: as its user, with arguments for its s3sync
// entrypoint (there is no shell), mounting volumes the pod has and claims the files define.
func TestKubernetesManifests(t *testing.T) {
	kube, _ := manifests(t)
	for _, path := range kube {
		claims := map[string]bool{}
		var pods []podOf
		docs := documents(t, path)
		if len(docs) == 0 {
			t.Errorf("%s holds no object", path)
		}
		for _, doc := range docs {
			obj, err := decodeKube(doc)
			if err != nil {
				t.Errorf("%s: %v", doc.name, err)
				continue
			}
			switch o := obj.(type) {
			case *corev1.PersistentVolumeClaim:
				claims[o.Name] = true
			case *batchv1.Job:
				pods = append(pods, podOf{doc.name, &o.Spec.Template.Spec})
			case *batchv1.CronJob:
				pods = append(pods, podOf{doc.name, &o.Spec.JobTemplate.Spec.Template.Spec})
			case *appsv1.StatefulSet:
				pods = append(pods, podOf{doc.name, &o.Spec.Template.Spec})
				for _, c := range o.Spec.VolumeClaimTemplates {
					claims[c.Name] = true
				}
			case *appsv1.Deployment:
				pods = append(pods, podOf{doc.name, &o.Spec.Template.Spec})
			}
		}
		for _, p := range pods {
			checkPod(t, p, claims)
		}
	}
}

type podOf struct {
	name string
	spec *corev1.PodSpec
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkPod(t *testing.T, p podOf, claims map[string]bool) {
	t.Helper()
	volumes := map[string]bool{}
	for _, v := range p.spec.Volumes {
		volumes[v.Name] = true
		if pvc := v.PersistentVolumeClaim; pvc != nil && !claims[pvc.ClaimName] {
			t.Errorf("%s: volume %s claims %q, which the file does not define", p.name, v.Name, pvc.ClaimName)
		}
	}
	if sc := p.spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != imageUser ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: the pod must run as non-root user %d, the image's", p.name, imageUser)
	}
	containers := append(append([]corev1.Container{}, p.spec.InitContainers...), p.spec.Containers...)
	for _, c := range containers {
		name := p.name + " container " + c.Name
		if c.Image != image {
			t.Errorf("%s: image %q, want %q (make image)", name, c.Image, image)
		}
		// No registry publishes the image: the nodes run the one loaded into them, which the
		// default policy of a :latest tag (Always) would try to pull instead.
		if c.ImagePullPolicy != corev1.PullIfNotPresent && c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("%s: imagePullPolicy %q, want IfNotPresent (or Never): %q is not pulled from a registry", name, c.ImagePullPolicy, c.Image)
		}
		if len(c.Command) > 0 {
			t.Errorf("%s: command %q replaces the image's entrypoint (s3sync; the image has no shell): pass args only", name, c.Command)
		}
		if len(c.Args) == 0 || strings.HasPrefix(c.Args[0], "/") {
			t.Errorf("%s: args %q are not s3sync's", name, c.Args)
		}
		// $(VAR) in args is filled in by Kubernetes only from the container's own env.
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
		}
		for _, a := range c.Args {
			for _, m := range varRef.FindAllStringSubmatch(a, -1) {
				if !env[m[1]] {
					t.Errorf("%s: args use $(%s), which its env does not set", name, m[1])
				}
			}
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				t.Errorf("%s: mounts volume %q, which the pod does not have", name, m.Name)
			}
		}
	}
}

// The strict decoding catches what it must: a misspelt field, a field in the wrong place, a
// value of the wrong type, an unknown kind.
func TestKubernetesDecodingIsStrict(t *testing.T) {
	good := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  completions: 4\n"
	if _, err := decodeKube(document{"good", []byte(good)}); err != nil {
		t.Fatalf("a valid Job: %v", err)
	}
	for name, text := range map[string]string{
		"misspelt field": strings.Replace(good, "completions", "completion", 1),
		"misplaced":      good + "completionMode: Indexed\n",
		"wrong type":     strings.Replace(good, "4", `"four"`, 1),
		"unknown kind":   strings.Replace(good, "kind: Job", "kind: Jobb", 1),
		"duplicate key":  good + "  completions: 5\n",
	} {
		if _, err := decodeKube(document{name, []byte(text)}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// composeFile is what deploy/docker-compose*.yml may say: the subset of the Compose
// specification the example uses, decoded strictly so a misspelt key fails.
type composeFile struct {
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct{}      `json:"volumes,omitempty"`
}

type composeService struct {
	Image           string            `json:"image"`
	Profiles        []string          `json:"profiles"`
	Restart         string            `json:"restart"`
	Command         []string          `json:"command"`
	Environment     map[string]string `json:"environment"`
	DependsOn       []string          `json:"depends_on"`
	Networks        []string          `json:"networks"`
	Volumes         []string          `json:"volumes"`
	ReadOnly        bool              `json:"read_only"`
	CapDrop         []string          `json:"cap_drop"`
	SecurityOpt     []string          `json:"security_opt"`
	StopGracePeriod string            `json:"stop_grace_period"`
}

// mastodonDBNetwork is the network of the db service in Mastodon's docker-compose.yml;
// mastodonOutside is the one with a way out (to the buckets).
const mastodonDBNetwork, mastodonOutside = "internal_network", "external_network"

// The compose service for Mastodon's docker-compose.yml: the image make image builds, on the
// network of Mastodon's db and the one to the outside, its config and checkpoint on a volume
// mounted at the image's working folder, copy --resume by default, started only on demand.
func TestComposeService(t *testing.T) {
	_, compose := manifests(t)
	for _, path := range compose {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var f composeFile
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		s, ok := f.Services["s3sync"]
		if !ok || len(f.Services) != 1 {
			t.Errorf("%s: services %v, want s3sync alone (Mastodon's file has the others)", path, f.Services)
			continue
		}
		if s.Image != image {
			t.Errorf("%s: image %q, want %q", path, s.Image, image)
		}
		if !slices.Contains(s.Networks, mastodonDBNetwork) || !slices.Contains(s.Networks, mastodonOutside) {
			t.Errorf("%s: networks %v, want %s (Mastodon's db) and %s (the buckets)", path, s.Networks, mastodonDBNetwork, mastodonOutside)
		}
		if !slices.Contains(s.DependsOn, "db") {
			t.Errorf("%s: depends_on %v, want db", path, s.DependsOn)
		}
		if !slices.Equal(s.Command, []string{"copy", "--resume"}) {
			t.Errorf("%s: command %q, want copy --resume", path, s.Command)
		}
		if len(s.Profiles) == 0 {
			t.Errorf("%s: no profile: docker compose up would start a copy with Mastodon", path)
		}
		if s.Restart != "no" {
			t.Errorf("%s: restart %q: a copy that ended (done, or objects failed: exit 3) must not start again by itself", path, s.Restart)
		}
		// One volume holds the config and the checkpoint: /data, the image's working folder.
		var data0 string
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) < 2 {
				t.Errorf("%s: volume %q has no target", path, v)
				continue
			}
			if parts[1] == "/data" {
				data0 = parts[0]
			}
			if vol := parts[0]; !strings.HasPrefix(vol, ".") && !strings.HasPrefix(vol, "/") {
				if _, ok := f.Volumes[vol]; !ok {
					t.Errorf("%s: named volume %q is not declared under volumes", path, vol)
				}
			}
		}
		if data0 == "" {
			t.Errorf("%s: volumes %v mount nothing at /data", path, s.Volumes)
		}
		if cfg := s.Environment["S3SYNC_CONFIG"]; cfg != "" && !strings.HasPrefix(cfg, "/data/") {
			t.Errorf("%s: S3SYNC_CONFIG %q is not on the /data volume", path, cfg)
		}
		if !bytes.Contains(data, []byte("checkpoint")) {
			t.Errorf("%s: the comments do not say where the checkpoint goes", path)
		}
	}
}
