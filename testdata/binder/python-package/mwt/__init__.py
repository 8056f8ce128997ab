from binderdep import answer


def hello():
    return "mwt says %d" % answer()
