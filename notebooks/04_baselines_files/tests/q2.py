from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1

@test_case(points=0.5, hidden=False)
def test_q2__prompt_growth(bm25_grows_with):
    assert bm25_grows_with in ('a', 'b', 'c'), 'answer with one letter'
    assert bm25_grows_with == 'a', 'not quite: look at the token counts for bm25-k1 to bm25-k8 above'

@test_case(points=0.5, hidden=False)
def test_q2__llm_calls(copy_llm_calls):
    assert copy_llm_calls in ('a', 'b', 'c'), 'answer with one letter'
    assert copy_llm_calls == 'b', 'not quite: the answer is copied from a history item'

