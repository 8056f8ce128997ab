import binderdep


def answer():
    return binderdep.answer()
