#!/usr/bin/env python3
"""Writes a devfile registry of N stack versions (artifacts) for bench/run.sh's
plan case, shaped like devfile/registry: multi-version stacks (stack.yaml and
<version>/devfile.yaml with docker/ and kubernetes/ beside it, packed into
archive.tar) and single-version stacks, last_modified.json, an
extraDevfileEntries.yaml with samples. The same bytes on every run.

    mkdevfiles.py DIR N      (devfile/registry has about 90 stack versions)
"""
import json
import os
import sys

DEVFILE = """schemaVersion: {schema}
metadata:
  name: {name}
  version: {version}
  displayName: {display}
  description: {display} {version}, generated for assemble's benchmark.
  icon: https://raw.githubusercontent.com/devfile-samples/devfile-stack-icons/main/{name}.svg
  tags: ["{lang}", "Bench"]
  architectures: ["amd64", "arm64"]
  projectType: {lang}
  language: {lang}
  provider: Bench
  supportUrl: https://example.com/support
variables:
  CONTAINER_IMAGE: quay.io/unknown-account/{name}:latest
starterProjects:
  - name: {name}-starter
    git:
      checkoutFrom:
        revision: main
      remotes:
        origin: https://github.com/devfile-samples/devfile-stack-{name}.git
components:
  - name: runtime
    container:
      image: registry.access.redhat.com/ubi9/{name}:{version}
      args: ["tail", "-f", "/dev/null"]
      memoryLimit: 1024Mi
      mountSources: true
      endpoints:
        - name: http-{idx}
          targetPort: 8080
  - name: cache
    volume:
      size: 1Gi
{extra_components}commands:
  - id: build
    exec:
      component: runtime
      commandLine: make build
      group:
        kind: build
        isDefault: true
  - id: run
    exec:
      component: runtime
      commandLine: make run
      group:
        kind: run
        isDefault: true
{extra_commands}"""

IMAGE_COMPONENTS = """  - name: image-build
    image:
      imageName: "{{CONTAINER_IMAGE}}"
      dockerfile:
        uri: docker/Dockerfile
        buildContext: .
        rootRequired: false
  - name: kubernetes-deploy
    kubernetes:
      uri: kubernetes/deploy.yaml
      endpoints:
        - name: http-8081
          targetPort: 8081
"""

IMAGE_COMMANDS = """  - id: build-image
    apply:
      component: image-build
  - id: deployk8s
    apply:
      component: kubernetes-deploy
  - id: deploy
    composite:
      commands: [build-image, deployk8s]
      group:
        kind: deploy
        isDefault: true
"""

LANGS = ["Go", "Java", "Python", "Node.js", "Rust", "PHP", "Dotnet", "Ruby"]


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def version_dir(d, name, version, idx, lang, schema, files):
    write(os.path.join(d, "devfile.yaml"), DEVFILE.format(
        schema=schema, name=name, version=version, display=name.title() + " Runtime", lang=lang, idx=idx,
        extra_components=IMAGE_COMPONENTS if files else "", extra_commands=IMAGE_COMMANDS if files else ""))
    if files:
        write(os.path.join(d, "docker", "Dockerfile"), "FROM registry.access.redhat.com/ubi9/%s:%s\nCOPY . /app\nRUN make -C /app build\n" % (name, version))
        write(os.path.join(d, "kubernetes", "deploy.yaml"), "kind: Deployment\napiVersion: apps/v1\nmetadata:\n  name: %s\n" % name)
        write(os.path.join(d, "README.md"), "# %s %s\n" % (name, version))


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    stacks = os.path.join(root, "stacks")
    last = {"stacks": [], "samples": []}
    made, s = 0, 0
    while made < n:
        name = "stack%02d" % s
        lang = LANGS[s % len(LANGS)]
        # Two in three stacks carry several versions (as devfile/registry's go, java, nodejs do).
        count = min(n - made, 1 if s % 3 == 2 else 1 + s % 4 + 1)
        if count == 1 and s % 3 == 2:
            d = os.path.join(stacks, name)
            version_dir(d, name, "1.0.0", made, lang, "2.2.0", False)
            write(os.path.join(d, "OWNERS"), "approvers:\n  - bench\n")
            write(os.path.join(d, "logo.svg"), '<svg xmlns="http://www.w3.org/2000/svg"/>\n')
            last["stacks"].append({"name": name, "version": "1.0.0", "lastModified": "2024-05-13T12:32:02+02:00"})
        else:
            versions = ["%d.%d.0" % (1 + v // 2, v % 2) for v in range(count)]
            yaml = "name: %s\ndescription: %s stacks\ndisplayName: %s Runtime\nicon: https://raw.githubusercontent.com/devfile-samples/devfile-stack-icons/main/%s.svg\nversions:\n" % (name, lang, name.title(), name)
            for i, v in enumerate(versions):
                yaml += "  - version: %s\n" % v + ("    default: true\n" if i == len(versions) - 1 else "")
                version_dir(os.path.join(stacks, name, v), name, v, made + i, lang, ["2.2.0", "2.1.0", "2.2.2", "2.2.1"][i % 4], i % 2 == 0)
                last["stacks"].append({"name": name, "version": v, "lastModified": "2024-0%d-1%dT10:00:00Z" % (1 + i % 9, i % 10)})
            write(os.path.join(stacks, name, "stack.yaml"), yaml)
        made += count
        s += 1
    write(os.path.join(root, "last_modified.json"), json.dumps(last, indent=2) + "\n")
    write(os.path.join(root, "extraDevfileEntries.yaml"), """schemaVersion: 1.0.0
samples:
  - name: nodejs-basic
    displayName: Basic Node.js
    description: A simple Hello World Node.js application
    icon: https://raw.githubusercontent.com/devfile-samples/devfile-stack-icons/main/node-js.svg
    tags: ["Node.js", "Express"]
    projectType: Node.js
    language: JavaScript
    provider: Red Hat
    git:
      remotes:
        origin: https://github.com/nodeshift-starters/devfile-sample.git
""")


if __name__ == "__main__":
    main()
