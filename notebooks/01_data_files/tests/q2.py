from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1

@test_case(points=0.25, hidden=False)
def test_q2__accuracy(rule_accuracy):
    first = lambda tags: tags[0] if tags else ''
    rows = [{'profile': [{'tag': 'a', 'date': '2001-01-01'}], 'target': 'a'}, {'profile': [{'tag': 'b', 'date': '2001-01-01'}], 'target': 'a'}]
    got = rule_accuracy(first, rows)
    assert abs(got - 0.5) < 1e-09, f'one row of two is right: 0.5, got {got}'
    assert rule_accuracy(first, []) == 0.0, 'no rows: 0.0'

@test_case(points=0.25, hidden=False)
def test_q2__date_order(rule_accuracy):
    first = lambda tags: tags[0] if tags else ''
    rows = [{'profile': [{'tag': 'new', 'date': '2012-05-01'}, {'tag': 'old', 'date': '2003-02-01'}], 'target': 'old'}]
    got = rule_accuracy(first, rows)
    assert got == 1.0, f"the rule must see the tags oldest first ('old' before 'new'); accuracy {got}"

