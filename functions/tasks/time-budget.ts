/**
 * A task that must end within its state's time: the drift check shares the task function (whose
 * timeout fits onboarding's long steps), so Lambda would let it run for up to 15 minutes after
 * its Express execution gave up. It ends its own invocation instead, before the state's
 * TimeoutSeconds; what it was still reading is dropped with the invocation.
 */
export class TaskOutOfTimeError extends Error {
  override readonly name = "TaskOutOfTimeError";
}

/** `work`'s result, or TaskOutOfTimeError once `budgetMs` has passed. */
export async function withinBudget<T>(work: Promise<T>, budgetMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TaskOutOfTimeError(`${what} ran out of its ${budgetMs} ms`)),
      budgetMs,
    );
  });
  try {
    return await Promise.race([work, outOfTime]);
  } finally {
    clearTimeout(timer);
  }
}
