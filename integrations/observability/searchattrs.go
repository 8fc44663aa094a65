package observability

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Search attributes an incident carries so the Temporal Web UI and
// `temporal workflow list --query` can filter incidents. All Keyword;
// deploy/scripts/temporal-setup.sh registers them in the namespace (and
// `runbook dev` must register them in its embedded server).
var (
	SARunbookName     = temporal.NewSearchAttributeKeyKeyword("RunbookName")
	SABotID           = temporal.NewSearchAttributeKeyKeyword("BotID")
	SAExchange        = temporal.NewSearchAttributeKeyKeyword("Exchange")
	SASeverity        = temporal.NewSearchAttributeKeyKeyword("Severity")
	SAIncidentTrigger = temporal.NewSearchAttributeKeyKeyword("IncidentTrigger")
)

// IncidentAttributes are the values of an incident's search attributes;
// empty ones are left out.
type IncidentAttributes struct {
	Runbook, Bot, Exchange, Severity, Trigger string
}

func (a IncidentAttributes) pairs() []struct {
	key   temporal.SearchAttributeKeyKeyword
	value string
} {
	return []struct {
		key   temporal.SearchAttributeKeyKeyword
		value string
	}{{SARunbookName, a.Runbook}, {SABotID, a.Bot}, {SAExchange, a.Exchange}, {SASeverity, a.Severity}, {SAIncidentTrigger, a.Trigger}}
}

// Typed is for client.StartWorkflowOptions.TypedSearchAttributes.
func (a IncidentAttributes) Typed() temporal.SearchAttributes {
	var updates []temporal.SearchAttributeUpdate
	for _, p := range a.pairs() {
		if p.value != "" {
			updates = append(updates, p.key.ValueSet(p.value))
		}
	}
	return temporal.NewSearchAttributes(updates...)
}

// Proto is for raw WorkflowService requests (the trigger consumer's
// SignalWithStartWorkflowExecutionRequest.SearchAttributes).
func (a IncidentAttributes) Proto() (*commonpb.SearchAttributes, error) {
	fields := map[string]*commonpb.Payload{}
	for _, p := range a.pairs() {
		if p.value == "" {
			continue
		}
		pl, err := converter.GetDefaultDataConverter().ToPayload(p.value)
		if err != nil {
			return nil, err
		}
		fields[p.key.GetName()] = pl
	}
	return &commonpb.SearchAttributes{IndexedFields: fields}, nil
}
