package main

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// workflowOnly refuses activity tasks that no workflow scheduled. Temporal
// can run "standalone" activities — started by a client straight onto a
// task queue — and every check of who may act lives in the workflows (start
// check, Update validators): a client with Temporal access could otherwise
// run bot.unfreeze or an exchange key call directly, or have
// drill.sign_start sign an engine start for any incident.
type workflowOnly struct {
	interceptor.WorkerInterceptorBase
}

func (*workflowOnly) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &workflowOnlyActivity{}
	i.Next = next
	return i
}

type workflowOnlyActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

// ErrStandaloneActivity is the error type of a refused standalone activity.
const ErrStandaloneActivity = "StandaloneActivityRefused"

func (a *workflowOnlyActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	info := activity.GetInfo(ctx)
	if info.WorkflowExecution.ID == "" {
		return nil, temporal.NewNonRetryableApplicationError("activity "+info.ActivityType.Name+
			" refused: this worker runs activities only for its workflows, whose checks decide who may act", ErrStandaloneActivity, nil)
	}
	return a.Next.ExecuteActivity(ctx, in)
}
