package demo

import "fmt"

// AppFiles is the demo application: a static site served from a base image
// by COPY alone, which Conveyor can build without a container runtime.
func AppFiles() map[string]string {
	return map[string]string{
		"Dockerfile": `# The web front end: static files on a small base image.
FROM scratch
LABEL org.opencontainers.image.title="demo web"
ENV PORT=8080
WORKDIR /srv
COPY app/ /srv/
USER 65532
EXPOSE 8080
ENTRYPOINT ["/srv/server"]
`,
		"app/index.html": "<!doctype html><title>demo</title><h1>Hello from Conveyor</h1>\n",
		"app/healthz":    "ok\n",
		"app/server":     "#!/bin/true\n",
		"README.md":      "# demo/web\n",
		".dockerignore":  "README.md\n",
	}
}

// GitOpsFiles is the demo GitOps repository: conveyor.yaml and one
// Kustomize overlay per environment.
func GitOpsFiles(appRepo, image string) map[string]string {
	files := map[string]string{
		"conveyor.yaml": fmt.Sprintf(`# The demo pipeline: every push to demo/web main is built, then promoted
# dev → staging automatically and to prod after a person approves.
version: 1
apps:
  - name: web
    source:
      repo: %s
      branch: main
    image: %s
    tags:
      glob: ["sha-*"]
    environments:
      - name: dev
        path: envs/dev
        strategy: kustomize
        release: auto
      - name: staging
        path: envs/staging
        strategy: kustomize
        release: auto
      - name: prod
        path: envs/prod
        strategy: kustomize
        release: manual
        reviewers: [alice]
`, appRepo, image),
		"base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ` + image + `:bootstrap # replaced by Conveyor with a digest
          ports:
            - containerPort: 8080
`,
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		files["envs/"+env+"/kustomization.yaml"] = fmt.Sprintf(`# %s overlay: Conveyor pins the image digest below.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: web-%s
resources:
  - ../../base
images:
  - name: %s
`, env, env, image)
	}
	return files
}
