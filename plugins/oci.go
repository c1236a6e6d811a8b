package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/kubeshark-wasm/kubeshark/sdk"
)

// Media types of a plugin artifact. The signature travels as a layer of the
// same manifest rather than as a referrer, so it works on registries
// without the referrers API and survives any copy of the manifest.
const (
	ArtifactType       = "application/vnd.kubeshark.plugin.v1"
	ConfigMediaType    = "application/vnd.kubeshark.plugin.v1+json"
	ModuleMediaType    = "application/wasm"
	SignatureMediaType = "application/vnd.kubeshark.plugin.signature.v1+minisign"
	AnnotationName     = "io.kubeshark.plugin.name"
	AnnotationVersion  = "io.kubeshark.plugin.version"
	AnnotationABI      = "io.kubeshark.plugin.abi"
	maxManifestSize    = 4 << 20
	maxSignatureSize   = 64 << 10
	ociScheme          = "oci://"
)

// OCIOptions configure registry access.
type OCIOptions struct {
	// PlainHTTP talks http instead of https. Loopback registries always
	// get plain http.
	PlainHTTP bool
	// Client is the HTTP client; nil uses an oras auth client with the
	// credentials of the Docker configuration (docker login).
	Client remote.Client
	// Created is the manifest's org.opencontainers.image.created. Zero
	// means the Unix epoch, so that pushing the same plugin twice gives
	// the same digest (reproducible, as ko and SOURCE_DATE_EPOCH builds
	// do); oras would otherwise stamp the current second.
	Created time.Time
}

func (o OCIOptions) created() time.Time {
	if o.Created.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return o.Created.UTC()
}

func repository(ref string, o OCIOptions) (*remote.Repository, error) {
	r, ok := strings.CutPrefix(ref, ociScheme)
	if !ok {
		return nil, fmt.Errorf("%s: an OCI reference starts with oci://", ref)
	}
	repo, err := remote.NewRepository(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if repo.Reference.Reference == "" {
		return nil, fmt.Errorf("%s: name a tag (:TAG) or a digest (@sha256:…)", ref)
	}
	repo.PlainHTTP = o.PlainHTTP || isLoopback(repo.Reference.Registry)
	if o.Client != nil {
		repo.Client = o.Client
	} else {
		c := &auth.Client{Client: retry.DefaultClient, Cache: auth.NewCache()}
		if cs, err := credentials.NewStoreFromDocker(credentials.StoreOptions{}); err == nil {
			c.Credential = credentials.Credential(cs)
		}
		repo.Client = c
	}
	return repo, nil
}

func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// pluginConfig is the artifact's config blob: the manifest and ABI, so a
// registry browser or `oras manifest fetch-config` shows what it is.
type pluginConfig struct {
	ABI      int          `json:"abi_version"`
	Manifest sdk.Manifest `json:"manifest"`
}

// PushOCI pushes a plugin to ref (oci://REGISTRY/REPO:TAG) and returns the
// manifest's digest.
func PushOCI(ctx context.Context, ref string, a Artifact, m sdk.Manifest, o OCIOptions) (string, error) {
	repo, err := repository(ref, o)
	if err != nil {
		return "", err
	}
	cfg, err := json.Marshal(pluginConfig{ABI: sdk.ABIVersion, Manifest: m})
	if err != nil {
		return "", err
	}
	cfgDesc, err := oras.PushBytes(ctx, repo, ConfigMediaType, cfg)
	if err != nil {
		return "", fmt.Errorf("pushing %s: config: %w", ref, err)
	}
	modDesc, err := oras.PushBytes(ctx, repo, ModuleMediaType, a.Code)
	if err != nil {
		return "", fmt.Errorf("pushing %s: module: %w", ref, err)
	}
	modDesc.Annotations = map[string]string{ocispec.AnnotationTitle: m.Name + ".wasm"}
	layers := []ocispec.Descriptor{modDesc}
	if len(a.Sig) > 0 {
		sigDesc, err := oras.PushBytes(ctx, repo, SignatureMediaType, a.Sig)
		if err != nil {
			return "", fmt.Errorf("pushing %s: signature: %w", ref, err)
		}
		sigDesc.Annotations = map[string]string{ocispec.AnnotationTitle: m.Name + ".wasm.minisig"}
		layers = append(layers, sigDesc)
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		ConfigDescriptor: &cfgDesc,
		Layers:           layers,
		ManifestAnnotations: map[string]string{
			AnnotationName: m.Name, AnnotationVersion: m.Version, AnnotationABI: strconv.Itoa(sdk.ABIVersion),
			ocispec.AnnotationTitle: m.Name, ocispec.AnnotationVersion: m.Version,
			ocispec.AnnotationCreated: o.created().Format(time.RFC3339),
		},
	})
	if err != nil {
		return "", fmt.Errorf("pushing %s: manifest: %w", ref, err)
	}
	if _, err := digest.Parse(repo.Reference.Reference); err != nil {
		if err := repo.Tag(ctx, desc, repo.Reference.Reference); err != nil {
			return "", fmt.Errorf("pushing %s: tag: %w", ref, err)
		}
	} else if desc.Digest.String() != repo.Reference.Reference {
		return "", fmt.Errorf("%w: pushing %s: the manifest's digest is %s", ErrDigest, ref, desc.Digest)
	}
	return desc.Digest.String(), nil
}

// PullOCI fetches a plugin from ref (oci://REGISTRY/REPO:TAG or
// @sha256:…). Every blob is checked against the digest the manifest names,
// and the manifest against the digest of the reference (or of the tag's
// resolution), so a registry that serves other bytes is refused with
// ErrDigest.
func PullOCI(ctx context.Context, ref string, o OCIOptions) (Artifact, error) {
	repo, err := repository(ref, o)
	if err != nil {
		return Artifact{}, err
	}
	desc, err := repo.Resolve(ctx, repo.Reference.Reference)
	if err != nil {
		// oras checks a digest reference against the registry's
		// Docker-Content-Digest but has no sentinel error for it.
		if strings.Contains(err.Error(), "digest mismatch") {
			return Artifact{}, fmt.Errorf("%w: pulling %s: %w", ErrDigest, ref, err)
		}
		return Artifact{}, fmt.Errorf("pulling %s: %w", ref, err)
	}
	if pinned, err := digest.Parse(repo.Reference.Reference); err == nil && desc.Digest != pinned {
		return Artifact{}, fmt.Errorf("%w: pulling %s: the registry resolved it to %s", ErrDigest, ref, desc.Digest)
	}
	if desc.Size > maxManifestSize {
		return Artifact{}, fmt.Errorf("pulling %s: manifest of %d bytes is too large", ref, desc.Size)
	}
	raw, err := fetchVerified(ctx, repo, desc)
	if err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: manifest: %w", ref, err)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return Artifact{}, fmt.Errorf("pulling %s: manifest is not JSON: %w", ref, err)
	}
	if man.ArtifactType != ArtifactType && man.Config.MediaType != ConfigMediaType {
		return Artifact{}, fmt.Errorf("pulling %s: not a kubeshark plugin (artifact type %q, config %q; want %s)", ref, man.ArtifactType, man.Config.MediaType, ArtifactType)
	}
	a := Artifact{Source: ociScheme + repo.Reference.Registry + "/" + repo.Reference.Repository + "@" + desc.Digest.String()}
	for _, l := range man.Layers {
		switch l.MediaType {
		case ModuleMediaType:
			if a.Code != nil {
				return Artifact{}, fmt.Errorf("pulling %s: the manifest has more than one %s layer", ref, ModuleMediaType)
			}
			if l.Size > MaxModuleSize {
				return Artifact{}, fmt.Errorf("%w: pulling %s: module of %d bytes is larger than %d", ErrInvalid, ref, l.Size, MaxModuleSize)
			}
			if a.Code, err = fetchVerified(ctx, repo, l); err != nil {
				return Artifact{}, fmt.Errorf("pulling %s: module: %w", ref, err)
			}
		case SignatureMediaType:
			if l.Size > maxSignatureSize {
				return Artifact{}, fmt.Errorf("pulling %s: signature of %d bytes is too large", ref, l.Size)
			}
			if a.Sig, err = fetchVerified(ctx, repo, l); err != nil {
				return Artifact{}, fmt.Errorf("pulling %s: signature: %w", ref, err)
			}
		}
	}
	if a.Code == nil {
		return Artifact{}, fmt.Errorf("pulling %s: the manifest has no %s layer", ref, ModuleMediaType)
	}
	return a, nil
}

// fetchVerified reads a blob or manifest and refuses bytes whose digest or
// size is not the descriptor's.
func fetchVerified(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) ([]byte, error) {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDigest, desc.Digest, err)
	}
	// ReadAll verifies already; say it again in our terms in case a
	// future oras stops doing so.
	if Digest(b) != desc.Digest.String() || int64(len(b)) != desc.Size {
		return nil, fmt.Errorf("%w: %s: the registry served bytes with %s", ErrDigest, desc.Digest, Digest(b))
	}
	return b, nil
}
