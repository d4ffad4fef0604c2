package imagebuild

import (
	"archive/tar"
	"errors"
	"fmt"
	"path"
)

// planner turns the steps of a recipe's stages into planned layers.
type planner struct {
	recipe *Recipe
	ctx    *buildContext
	stages map[int]*stageFS
	vars   []string // the platform arguments, KEY=value, for every stage
}

func newPlanner(r *Recipe, ctx *buildContext, vars []string) *planner {
	return &planner{recipe: r, ctx: ctx, stages: map[int]*stageFS{}, vars: vars}
}

// plannedStep is a step with, for COPY and ADD, the entries of its layer.
type plannedStep struct {
	step    Step
	entries []entry
}

// plan plans the steps of stage i, starting in workdir with env, the base
// image's.
func (p *planner) plan(i int, workdir string, env []string) ([]plannedStep, error) {
	st := p.recipe.Stages[i]
	var out []plannedStep
	for _, step := range st.Steps {
		step = step.withBaseEnv(env)
		ps := plannedStep{step: step}
		switch step.Instruction {
		case Workdir:
			if path.IsAbs(step.Values[0]) {
				workdir = path.Clean(step.Values[0])
			} else {
				workdir = path.Join("/", workdir, step.Values[0])
			}
		case Copy, Add:
			entries, err := p.planCopy(step, workdir)
			if err != nil {
				return nil, p.locate(step, err)
			}
			ps.entries = entries
		}
		out = append(out, ps)
	}
	return out, nil
}

func (p *planner) locate(step Step, err error) error {
	var located *RecipeError
	if errors.As(err, &located) {
		return err // located in an earlier stage already
	}
	re := &RecipeError{File: p.recipe.File, Line: step.Line, Msg: fmt.Sprintf("%s: %v", step.Instruction, err), err: err}
	switch {
	case errors.Is(err, ErrInvalidContext):
		re.kind = ErrInvalidContext
	case errors.Is(err, ErrInvalidRecipe):
		re.kind = ErrInvalidRecipe
	default:
		// An I/O error: report it with its location, without claiming
		// that retrying cannot help.
		return fmt.Errorf("%s:%d: %s: %w", p.recipe.File, step.Line, step.Instruction, err)
	}
	return re
}

func (p *planner) planCopy(step Step, workdir string) ([]entry, error) {
	dest, destIsDir := resolveDest(workdir, step.Dest)
	var (
		src     source = p.ctx
		sources []string
	)
	if step.From != "" {
		i, err := stageRef(p.recipe, step.From)
		if err != nil {
			return nil, recipeProblem(fmt.Sprintf("--from=%s names no earlier stage", step.From))
		}
		fsys, err := p.stageFS(i)
		if err != nil {
			return nil, err
		}
		src = fsys
		for _, s := range step.Sources {
			sources = append(sources, cleanStageSource(s))
		}
	} else {
		for _, s := range step.Sources {
			c, err := cleanContextSource(s)
			if err != nil {
				return nil, err
			}
			sources = append(sources, c)
		}
	}
	entries, roots, err := planCopy(src, sources, dest, destIsDir, step.Chown, step.Chmod)
	if err != nil {
		return nil, err
	}
	if step.Instruction == Add && step.From == "" {
		for _, r := range roots {
			if r.typ != tar.TypeReg {
				continue
			}
			archive, err := p.ctx.isArchive(r)
			if err != nil {
				return nil, err
			}
			if archive {
				return nil, &ContextError{Path: r.src, Reason: "is an archive ADD would unpack; Conveyor does not unpack archives: COPY it as is, or unpack it in CI"}
			}
		}
	}
	return entries, nil
}

// stageFS returns the files an earlier stage copied, planning it once.
func (p *planner) stageFS(i int) (*stageFS, error) {
	if fsys, ok := p.stages[i]; ok {
		return fsys, nil
	}
	name := p.recipe.Stages[i].Name
	if name == "" {
		name = fmt.Sprint(i)
	}
	fsys := &stageFS{name: name, entries: map[string]entry{}}
	steps, err := p.plan(i, "/", p.vars)
	if err != nil {
		return nil, err
	}
	for _, s := range steps {
		fsys.add(s.entries)
	}
	p.stages[i] = fsys
	return fsys, nil
}
