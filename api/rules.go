package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/edgevault/edgevault/rules"
)

// Rules manages the analytics rules (rules.Service).
type Rules interface {
	List() []rules.RuleView
	Get(id string) (rules.RuleView, error)
	Put(r rules.Rule, create bool) (rules.RuleView, error)
	Delete(id string) error
	SetDisabled(id string, disabled bool) (rules.RuleView, error)
	Validate(r rules.Rule) error
}

// readRule decodes one rule, strictly, from a JSON body.
func readRule(w http.ResponseWriter, r *http.Request) (rules.Rule, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return rules.Rule{}, err
	}
	rule, err := rules.ParseRuleJSON(body)
	if err != nil {
		return rule, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return rule, nil
}

func (s *server) rulesDep() (Rules, error) {
	if s.Rules == nil {
		return nil, unavailable("rules")
	}
	return s.Rules, nil
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	items := rs.List()
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
	return nil
}

func (s *server) getRule(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	v, err := rs.Get(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *server) createRule(w http.ResponseWriter, r *http.Request) error {
	return s.putRule(w, r, true)
}

func (s *server) updateRule(w http.ResponseWriter, r *http.Request) error {
	return s.putRule(w, r, false)
}

func (s *server) putRule(w http.ResponseWriter, r *http.Request, create bool) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	rule, err := readRule(w, r)
	if err != nil {
		return err
	}
	if id := r.PathValue("id"); id != "" {
		if rule.ID == "" {
			rule.ID = id
		} else if rule.ID != id {
			return errorf(ErrBadRequest, "rule id %q in the body differs from %q in the path", rule.ID, id)
		}
	}
	v, err := rs.Put(rule, create)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if create {
		code = http.StatusCreated
	}
	writeJSON(w, code, v)
	return nil
}

func (s *server) deleteRule(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	if err := rs.Delete(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) enableRule(w http.ResponseWriter, r *http.Request) error {
	return s.setDisabled(w, r, false)
}
func (s *server) disableRule(w http.ResponseWriter, r *http.Request) error {
	return s.setDisabled(w, r, true)
}

func (s *server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	v, err := rs.SetDisabled(r.PathValue("id"), disabled)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// validateRule compiles a rule without saving it: 200 {"valid": true}, or
// 400 with the reason and, for expressions, the position of the error.
func (s *server) validateRule(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.rulesDep()
	if err != nil {
		return err
	}
	rule, err := readRule(w, r)
	if err != nil {
		return err
	}
	if err := rs.Validate(rule); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
	return nil
}

// ruleErrorBody adds the structured position of a rule compile error.
func ruleErrorBody(err error, body map[string]any) {
	var re *rules.Error
	if errors.As(err, &re) {
		body["details"] = re
	}
}
