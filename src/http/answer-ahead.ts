/**
 * A route's answer given ahead of a Hono app (the edge's join and status poll, the origin's booking), its
 * refusals answered exactly as the app's `onError` answers them: `errorAnswer` is that handler's answer
 * for a bare Request.
 */
export async function answerAhead(request: Request, answer: Promise<Response>, errorAnswer: (err: Error, request: Request) => Response): Promise<Response> {
  try {
    return await answer;
  } catch (err) {
    // As Hono: only an Error reaches `onError`; anything else fails the request.
    if (!(err instanceof Error)) throw err;
    return errorAnswer(err, request);
  }
}
